import { stringify } from 'yaml';
import type { ReleaseBody } from '../client/responses.js';
import { formatAgo, formatTime, shortDigest, type ViewOptions } from './format.js';
import { renderFields, renderTable } from './table.js';

export function renderReleaseList(releases: readonly ReleaseBody[], o: ViewOptions): string {
  if (releases.length === 0) return 'No releases.';
  return renderTable(
    ['APP', 'VERSION', 'WORKLOADS', 'CREATED', 'DIGEST'],
    releases.map((r) => [r.app, r.version, Object.keys(r.workloads).sort().join(','), formatAgo(r.createdAt, o.now), shortDigest(r.digest)]),
    { color: o.color },
  );
}

export function renderReleaseDetail(r: ReleaseBody, o: ViewOptions): string {
  const fields: [string, string][] = [
    ['Release', `${r.app}@${r.version}`],
    ['Created', formatTime(r.createdAt, o.now)],
    ['Digest', r.digest],
  ];
  if (r.notes) fields.push(['Notes', r.notes]);
  const workloads = stringify(r.workloads, { indent: 2 }).trimEnd();
  return `${renderFields(fields, { color: o.color })}\n\nWorkloads\n${workloads.replace(/^/gm, '  ')}`;
}
