import type { AuditEntryBody } from '../client/access-client.js';
import type { ViewOptions } from './format.js';
import { renderTable } from './table.js';

/** "2026-03-01 10:04:05Z": audit times are absolute; "3m ago" would change under the reader. */
function at(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function who(e: AuditEntryBody): string {
  return e.actor.tokenId === null ? `${e.actor.name} (${e.actor.role})` : `${e.actor.name}/${e.actor.tokenId} (${e.actor.role})`;
}

export function renderAudit(entries: readonly AuditEntryBody[], nextBefore: number | null, o: ViewOptions): string {
  if (entries.length === 0) return 'No audit entries.';
  const table = renderTable(
    ['SEQ', 'AT', 'WHO', 'WHAT', 'OUTCOME', 'REQUEST'],
    entries.map((e) => [
      String(e.seq),
      at(e.at),
      who(e),
      `${e.method} ${e.url}`,
      e.outcome === 'ok' ? { text: String(e.statusCode), style: 'green' as const } : { text: `${e.statusCode} ${e.errorCode ?? ''}`.trim(), style: 'red' as const },
      e.requestId,
    ]),
    { color: o.color, align: ['right'] },
  );
  return nextBefore === null ? table : `${table}\nOlder entries: outpost audit --before ${nextBefore}`;
}
