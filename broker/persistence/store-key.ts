import { randomBytes } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { errorMessage, OutpostError } from '../../shared/errors.js';
import { PacketSeal, STORE_KEY_BYTES } from './packet-seal.js';

/**
 * DD-047: the broker's store key is 32 random bytes, base64 on one line, in a
 * file of its own (never in Redis: whoever reads Redis or its AOF must not
 * open the packets). Every broker process on one Redis needs the same file.
 */
export function readStoreKey(file: string): PacketSeal {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new OutpostError('CONFIG_INVALID', `invalid broker configuration: storeKeyFile: cannot read ${file}: ${errorMessage(err)} (create one: head -c 32 /dev/urandom | base64 > ${file}; chmod 600 ${file})`, { cause: err });
  }
  const key = Buffer.from(text, 'base64');
  if (key.length !== STORE_KEY_BYTES || key.toString('base64') !== text) {
    throw new OutpostError('CONFIG_INVALID', `invalid broker configuration: storeKeyFile: ${file} does not hold a store key (${STORE_KEY_BYTES} random bytes, base64 on one line)`);
  }
  return new PacketSeal(key);
}

/** `outpost up`: the key file under its data directory, created (mode 0600) on first start. Returns whether it was created. */
export async function ensureStoreKeyFile(file: string): Promise<boolean> {
  const created = await writeFile(file, `${randomBytes(STORE_KEY_BYTES).toString('base64')}\n`, { mode: 0o600, flag: 'wx' }).then(
    () => true,
    (err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw new Error(`cannot create the broker store key file ${file}: ${errorMessage(err)}`, { cause: err });
    },
  );
  // The umask may have narrowed the mode further, never widened it; make it exact.
  if (created) await chmod(file, 0o600);
  return created;
}
