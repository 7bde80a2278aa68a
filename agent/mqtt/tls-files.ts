import { readFileSync } from 'node:fs';
import { errorMessage, OutpostError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';

/** PEM files of the agent's TLS connection (DD-023). */
export interface TlsFiles {
  /** CA of the broker's certificate; absent: the system's CAs. */
  caFile?: string | undefined;
  /** Client certificate naming the device id, and its key. */
  certFile?: string | undefined;
  keyFile?: string | undefined;
}

/** What MQTT.js (tls.connect) takes. */
export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/**
 * Reads the files now, failing with CONFIG_INVALID when one cannot be read,
 * and returns a reader for every later connection attempt: a certificate
 * renewed on disk is used from the next reconnect on, like a rotated secret
 * file. A file unreadable later keeps the last material read (and says so once).
 */
export function tlsMaterialFromFiles(files: TlsFiles, logger: Logger): () => TlsMaterial {
  const entries = (['ca', 'cert', 'key'] as const).flatMap((name) => {
    const file = files[`${name}File`];
    return file === undefined ? [] : [{ name, file }];
  });
  const last: TlsMaterial = {};
  for (const { name, file } of entries) {
    try {
      last[name] = readFileSync(file);
    } catch (err) {
      throw new OutpostError('CONFIG_INVALID', `cannot read --${name} ${file}: ${errorMessage(err)}`, { cause: err });
    }
  }
  let warned = false;
  return () => {
    let failed = false;
    for (const { name, file } of entries) {
      try {
        last[name] = readFileSync(file);
      } catch (err) {
        failed = true;
        if (!warned) logger.warn({ file, err: errorMessage(err) }, 'cannot read a TLS file; using what was read before');
      }
    }
    warned = failed;
    return { ...last };
  };
}
