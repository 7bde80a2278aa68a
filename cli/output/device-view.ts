import type { DeviceBody, DeviceDetailBody, DeviceEventBody, DeviceSummaryBody } from '../client/responses.js';
import { formatAgo, formatLabels, formatList, formatTime, formatVersion, yesNo, type ViewOptions } from './format.js';
import { renderFields, renderTable, type Cell, type Style } from './table.js';
import { formatApplyPolicy } from './deployment-view.js';

const PHASE_STYLE: Record<string, Style> = { converged: 'green', applying: 'yellow', degraded: 'yellow', failed: 'red' };
const STATE_STYLE: Record<string, Style> = { running: 'green', pending: 'yellow', pulling: 'yellow', starting: 'yellow', failed: 'red', stopped: 'dim', removed: 'dim' };

const indent = (text: string, by = '  '): string =>
  text
    .split('\n')
    .map((l) => (l ? by + l : l))
    .join('\n');

function online(device: Pick<DeviceSummaryBody, 'online'>): Cell {
  return { text: yesNo(device.online), style: device.online ? 'green' : 'red' };
}

export function renderDeviceList(devices: readonly DeviceSummaryBody[], o: ViewOptions): string {
  if (devices.length === 0) return 'No devices.';
  return renderTable(
    ['ID', 'ONLINE', 'PHASE', 'DESIRED', 'APPLIED', 'IN SYNC', 'LAST SEEN', 'LABELS'],
    devices.map((d) => [
      d.id,
      online(d),
      phaseCell(d),
      `${formatVersion(d.desiredVersion)}${d.pending ? ' (pending)' : ''}`,
      formatVersion(d.appliedVersion),
      { text: yesNo(d.inSync), style: d.inSync ? undefined : 'yellow' },
      formatAgo(d.lastSeen, o.now),
      formatLabels(d.labels),
    ]),
    { color: o.color },
  );
}

/** Decommissioning overrides the reported phase: it is what happens to the device now. */
function phaseCell(d: Pick<DeviceSummaryBody, 'phase' | 'decommissioning'>): Cell {
  return d.decommissioning ? { text: 'decommissioning', style: 'yellow' } : { text: d.phase, style: PHASE_STYLE[d.phase] };
}

function desiredLine(d: DeviceDetailBody): Cell {
  const version = formatVersion(d.desiredVersion);
  if (!d.pending) return version;
  return { text: `${version} (a newer change is stored and not yet on the broker; published by itself)`, style: 'yellow' };
}

/** The desired document's apply policy and why the device waits, when either says anything (DD-040). */
function applyLines(d: DeviceDetailBody): [string, Cell][] {
  const lines: [string, Cell][] = [];
  const policy = { ...d.desired?.apply, ...(d.desired?.force ? { force: true } : {}) };
  if (Object.keys(policy).length) lines.push(['Apply', formatApplyPolicy(policy)]);
  const w = d.reported?.deferred;
  if (w) {
    const why = w.reason === 'locked' ? `update lock held by ${w.workloads.join(', ') || 'a workload'}` : `its window, until ${w.until ?? 'it opens'}`;
    lines.push(['Waiting', { text: `${formatVersion(w.version)} downloaded, waits for ${why}`, style: 'yellow' }]);
  }
  return lines;
}

function decommissionLines(d: DeviceDetailBody, o: ViewOptions): string | null {
  const c = d.decommission;
  if (!c) return null;
  const fields: [string, Cell][] = [
    ['Requested', formatTime(c.requestedAt, o.now)],
    ['Steps left', c.remaining.join(' → ') || '-'],
  ];
  if (c.wipe) fields.push(['Wipe', c.wiped]);
  if (c.lastError) fields.push(['Last error', { text: `${c.lastError} (attempt ${c.attempts}; retried by itself)`, style: 'red' }]);
  return `Decommission\n${indent(renderFields(fields, { color: o.color }))}`;
}

function appliedLine(d: DeviceDetailBody): Cell {
  const applied = formatVersion(d.appliedVersion);
  if (d.inSync) return { text: `${applied} (in sync)`, style: 'green' };
  const applying = d.reported?.desired.applyingVersion;
  if (applying) return { text: `${applied} (applying ${formatVersion(applying)})`, style: 'yellow' };
  return { text: `${applied} (not in sync with ${formatVersion(d.desiredVersion)})`, style: 'yellow' };
}

export function renderOverrides(overrides: DeviceBody['overrides']): string {
  const env = (e: Record<string, string>): string => formatLabels(e, ', ');
  const fields: [string, string][] = [];
  if (Object.keys(overrides.env).length) fields.push(['env', env(overrides.env)]);
  for (const [workload, e] of Object.entries(overrides.workloadEnv).sort(([a], [b]) => a.localeCompare(b))) fields.push([`env of ${workload}`, env(e)]);
  const pins = Object.entries(overrides.pins).map(([app, version]) => `${app}@${version}`);
  if (pins.length) fields.push(['pins', pins.sort().join(', ')]);
  return fields.length ? renderFields(fields) : 'none';
}

function workloadRows(d: DeviceDetailBody): Cell[][] {
  const desired = d.desired?.workloads ?? {};
  const reported = d.reported?.workloads ?? {};
  const names = [...new Set([...Object.keys(desired), ...Object.keys(reported)])].sort();
  return names.map((name) => {
    const status = reported[name];
    const release = d.desired?.provenance?.[name]?.release ?? (name in desired ? '' : '(not desired)');
    return [
      name,
      release || '-',
      desired[name]?.image ?? status?.image ?? '-',
      status ? { text: status.state, style: STATE_STYLE[status.state] } : { text: 'not reported', style: 'dim' },
      status?.reason ?? '',
    ];
  });
}

/** DD-052: the device's clock against the controller's, once the agent measured it. */
function clockLines(d: DeviceDetailBody, o: ViewOptions): [string, string | { text: string; style: Style }][] {
  const c = d.reported?.clock;
  if (!c) return [];
  const abs = Math.abs(c.skewMs);
  const amount = abs >= 60_000 ? `${Math.floor(abs / 60_000)} min ${Math.round((abs % 60_000) / 1000)} s` : `${(abs / 1000).toFixed(1)} s`;
  const text = abs < 1000 ? `in step with the controller (${amount})` : `${amount} ${c.skewMs > 0 ? 'ahead of' : 'behind'} the controller`;
  return [['Clock', { text: `${text}, measured ${formatAgo(c.measuredAt, o.now)}`, style: abs >= 60_000 ? 'yellow' : 'dim' }]];
}

export function renderDeviceDetail(d: DeviceDetailBody, o: ViewOptions): string {
  const blocks: string[] = [];
  blocks.push(
    renderFields(
      [
        ['Device', d.id],
        ['Labels', formatLabels(d.labels)],
        ['Created', formatTime(d.createdAt, o.now)],
        ['Online', { text: `${yesNo(d.online)}, last seen ${formatAgo(d.lastSeen, o.now)}`, style: d.online ? 'green' : 'red' }],
        ['Phase', phaseCell(d)],
        ['Desired', desiredLine(d)],
        ['Applied', appliedLine(d)],
        ...applyLines(d),
        ...clockLines(d, o),
      ],
      { color: o.color },
    ),
  );
  const decommission = decommissionLines(d, o);
  if (decommission) blocks.push(decommission);
  blocks.push(`Overrides\n${indent(renderOverrides(d.overrides))}`);
  blocks.push(
    d.apps.length
      ? `Apps\n${indent(renderTable(['APP', 'VERSION', 'DEPLOYMENT', 'SOURCE', 'SHADOWED'], d.apps.map((a) => [a.app, a.version, a.deploymentId, a.source, formatList(a.shadowed, 5)]), { color: o.color }))}`
      : 'Apps\n  none: no deployment targets this device',
  );
  const rows = workloadRows(d);
  if (rows.length) blocks.push(`Workloads\n${indent(renderTable(['WORKLOAD', 'RELEASE', 'IMAGE', 'STATE', 'REASON'], rows, { color: o.color }))}`);
  if (d.problems.length) blocks.push(`Problems\n${d.problems.map((p) => `  - ${p}`).join('\n')}`);
  const rejected = d.reported?.rejected;
  if (rejected) blocks.push(`Rejected desired state\n  ${formatVersion(rejected.version)} ${rejected.code}: ${rejected.reason} (${formatAgo(rejected.at, o.now)})`);
  const errors = d.reported?.errors ?? [];
  if (errors.length) {
    blocks.push(
      `Last errors\n${indent(renderTable(['WHEN', 'CODE', 'WORKLOAD', 'MESSAGE'], errors.slice(-5).map((e) => [formatAgo(e.at, o.now), { text: e.code, style: 'red' }, e.workload ?? '-', e.message]), { color: o.color }))}`,
    );
  }
  return blocks.join('\n\n');
}

export function renderEvents(events: readonly DeviceEventBody[], o: ViewOptions): string {
  if (events.length === 0) return 'No events.';
  const level: Record<string, Style> = { warn: 'yellow', error: 'red' };
  return renderTable(
    ['WHEN', 'LEVEL', 'TYPE', 'VERSION', 'WORKLOAD', 'MESSAGE'],
    events.map((e) => [formatAgo(e.at, o.now), { text: e.level, style: level[e.level] }, e.type, formatVersion(e.version), e.workload ?? '-', e.code ? `${e.code}: ${e.message}` : e.message]),
    { color: o.color },
  );
}
