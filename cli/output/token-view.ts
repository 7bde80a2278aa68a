import type { ApiTokenBody } from '../client/access-client.js';
import { formatAgo, type ViewOptions } from './format.js';
import { renderTable } from './table.js';

export function renderTokenList(tokens: readonly ApiTokenBody[], o: ViewOptions): string {
  if (tokens.length === 0) return 'No API tokens (the admin token of the controller configuration is not listed).';
  return renderTable(
    ['ID', 'NAME', 'ROLE', 'CREATED', 'BY', 'LAST USED'],
    tokens.map((t) => [t.id, t.name, t.role, formatAgo(t.createdAt, o.now), t.createdBy, formatAgo(t.lastUsedAt, o.now)]),
    { color: o.color },
  );
}
