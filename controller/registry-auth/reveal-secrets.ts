import type { CredentialCipher } from './credential-cipher.js';

/**
 * A stored desired document as it goes on the wire (DD-041): the sealed
 * registry passwords replaced by the passwords. Runs just before signing and
 * publishing, so the clear value exists only in this process's memory and
 * in the message to the broker — never in the controller's Redis records.
 * Documents without registryAuth pass through untouched (same bytes).
 * Throws CredentialCipherError when a value does not open.
 */
export function revealRegistryAuth(payload: string, cipher: Pick<CredentialCipher, 'open'> | null): string {
  if (!payload.includes('"registryAuth"')) return payload;
  const doc = JSON.parse(payload) as { registryAuth?: Record<string, { username: string; password: string }> };
  if (!doc.registryAuth) return payload;
  const open = (host: string, sealed: string): string => {
    if (!cipher) throw new Error(`cannot open the registry credentials of ${host}: this controller has no registry-credentials key`);
    return cipher.open(host, sealed);
  };
  const revealed: Record<string, { username: string; password: string }> = {};
  for (const [host, entry] of Object.entries(doc.registryAuth)) revealed[host] = { ...entry, password: open(host, entry.password) };
  // Member order kept (JSON.parse/stringify keep insertion order): the document only changes where it must.
  return JSON.stringify({ ...doc, registryAuth: revealed });
}

/** A document as the API shows it: registry passwords (sealed or not) never leave the controller that way. */
export function withoutRegistryPasswords<T extends { registryAuth?: Record<string, { username: string; password: string }> | undefined }>(doc: T): T {
  if (!doc.registryAuth) return doc;
  const registryAuth = Object.fromEntries(Object.entries(doc.registryAuth).map(([host, e]) => [host, { ...e, password: REDACTED_PASSWORD }]));
  return { ...doc, registryAuth };
}

export const REDACTED_PASSWORD = '[redacted]';
