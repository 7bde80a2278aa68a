import type { Identity } from './identity.js';

const MAX_LOGGED_CHARS = 200;

/** Client-supplied strings (topics, usernames, client ids) are clipped before they reach a log line. */
export function clip(value: unknown): string {
  const s = typeof value === 'string' ? value : String(value);
  return s.length > MAX_LOGGED_CHARS ? `${s.slice(0, MAX_LOGGED_CHARS)}…(${s.length} chars)` : s;
}

/** Log fields naming an identity; never a secret. */
export function identityFields(identity: Identity | undefined): Record<string, string> {
  if (!identity) return { identity: 'none' };
  return identity.kind === 'device' ? { deviceId: identity.deviceId } : { service: identity.username };
}
