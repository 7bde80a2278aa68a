import type { RegistryCredentialBody, RegistryCredentialChangeBody } from '../client/registry-client.js';
import { formatAgo, type ViewOptions } from './format.js';
import { renderTable } from './table.js';

export function renderRegistryCredentials(list: readonly RegistryCredentialBody[], o: ViewOptions): string {
  if (list.length === 0) return 'No registry credentials stored (outpost registry-login HOST --username U --password-stdin).';
  return renderTable(
    ['HOST', 'USERNAME', 'UPDATED'],
    list.map((c) => [c.host, c.username, formatAgo(c.updatedAt, o.now)]),
    { color: o.color },
  );
}

/** One line for a login or logout: what is stored, and how many documents went out. */
export function renderRegistryChange(verb: 'Stored' | 'Removed', change: RegistryCredentialChangeBody): string {
  const d = change.delivery;
  const devices = `${d.published} desired document${d.published === 1 ? '' : 's'} re-published`;
  const pending = d.state === 'pending' ? `; ${d.pending} pending (${d.reason ?? 'not yet acknowledged'})` : '';
  return `${verb} credentials for ${change.credential.host} (user ${change.credential.username}); ${devices}${pending}`;
}
