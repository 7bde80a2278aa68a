import type { FleetSummaryBody } from '../client/responses.js';
import type { ViewOptions } from './format.js';
import { renderFields, renderTable } from './table.js';

export function renderFleet(f: FleetSummaryBody, o: ViewOptions): string {
  const phases = Object.entries(f.byPhase)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([phase, n]) => `${phase} ${n}`)
    .join(', ');
  const head = renderFields(
    [
      ['Devices', `${f.devices} (${f.online} online, ${f.offline} offline)`],
      ['In sync', { text: `${f.inSync} of ${f.devices}`, style: f.inSync === f.devices ? 'green' : 'yellow' }],
      ['Phases', phases || '-'],
      ...(f.pending
        ? ([['Pending', { text: `${f.pending} devices with a change not yet on the broker (published by itself): ${(f.pendingDevices ?? []).slice(0, 5).join(', ')}${f.pending > 5 ? ', …' : ''}`, style: 'yellow' }]] as const)
        : []),
      ...(f.decommissioning?.length
        ? ([['Decommissioning', { text: `${f.decommissioning.join(', ')} (steps left, retried by itself)`, style: 'yellow' }]] as const)
        : []),
      ['Releases', String(f.releases)],
      ['Deployments', String(f.deployments)],
    ],
    { color: o.color },
  );
  const releases = Object.entries(f.byRelease).sort(([a], [b]) => a.localeCompare(b));
  if (releases.length === 0) return `${head}\n\nNo release is desired on any device yet.`;
  const table = renderTable(
    ['RELEASE', 'DESIRED', 'RUNNING'],
    releases.map(([ref, c]) => [ref, String(c.desired), { text: String(c.running), style: c.running === c.desired ? 'green' : 'yellow' }]),
    { color: o.color, align: ['left', 'right', 'right'] },
  );
  return `${head}\n\n${table}`;
}
