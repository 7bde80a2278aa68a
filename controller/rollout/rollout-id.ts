import { randomBytes } from 'node:crypto';

/**
 * `<app>-<version>-<4 hex>`, lower-cased, within the 56 characters of a
 * rollout id. The CLI chooses it before sending, so a retried create is the
 * same request (idempotent), not a second rollout.
 */
export function generateRolloutId(app: string, version: string): string {
  const slug = `${app}-${version}`.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').slice(0, 46).replace(/-$/, '');
  return `${slug}-${randomBytes(2).toString('hex')}`;
}
