import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import type { Logger } from '../../shared/logger.js';
import { CredentialCipher, KEY_BYTES } from './credential-cipher.js';

/**
 * The registry-credentials key (DD-041): 32 random bytes, base64, in a file
 * of its own, created with mode 0600 on first use. Never in Redis: whoever
 * reads Redis (or a copy of its AOF) must not be able to open the values.
 */
export async function loadOrCreateCredentialKey(file: string, logger: Logger): Promise<CredentialCipher> {
  const created = await writeFile(file, `${randomBytes(KEY_BYTES).toString('base64')}\n`, { mode: 0o600, flag: 'wx' }).then(
    () => true,
    (err: unknown) => {
      // Present already (or made meanwhile by another controller): use it.
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw new Error(`cannot create the registry-credentials key file ${file}: ${(err as Error).message}`, { cause: err });
    },
  );
  if (created) await chmod(file, 0o600);
  const text = (await readFile(file, 'utf8')).trim();
  const key = Buffer.from(text, 'base64');
  if (key.length !== KEY_BYTES || key.toString('base64') !== text) {
    throw new Error(`${file} does not hold a registry-credentials key (${KEY_BYTES} random bytes, base64 on one line)`);
  }
  const cipher = new CredentialCipher(key);
  if (created) logger.info({ file, keyId: cipher.keyId }, 'registry-credentials key generated');
  return cipher;
}
