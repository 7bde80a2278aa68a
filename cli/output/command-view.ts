import type { CommandViewBody, TelemetryBody } from '../client/responses.js';
import { formatDuration, formatTime, type ViewOptions } from './format.js';
import { renderFields, renderTable, type Cell } from './table.js';

const short = (id: unknown): string => (typeof id === 'string' ? id.slice(0, 12) : '?');
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Where to look later; part of every "not answered yet" line. */
export function showHint(view: CommandViewBody): string {
  return `run \`outpost command show ${view.command.deviceId} ${view.command.id}\` later`;
}

/** The one-line answer to a command that has not been answered (offline, or no answer in time). */
export function renderQueued(view: CommandViewBody): string {
  return `${view.message} (${showHint(view)})`;
}

/** What a successful command returned, for a human. Logs are the lines themselves, nothing else. */
export function renderOutput(view: CommandViewBody, o: ViewOptions): string {
  const out = view.result?.output ?? {};
  const { deviceId, type, workload } = view.command;
  switch (type) {
    case 'logs':
      return str(out['text']) ?? '';
    case 'restart': {
      const startedAt = str(out['startedAt']);
      return `Restarted ${workload ?? '?'} on ${deviceId} (container ${short(out['containerId'])}${startedAt ? `, started ${formatTime(startedAt, o.now)}` : ''})`;
    }
    case 'ping': {
      const uptime = num(out['agentUptimeSeconds']);
      const delay = num(out['delayMs']);
      return [
        `pong from ${deviceId}: agent ${str(out['agentVersion']) ?? '?'}`,
        uptime !== null ? `up ${formatDuration(uptime * 1000)}` : null,
        delay !== null ? `delivered ${delay} ms after it was sent` : null,
      ]
        .filter(Boolean)
        .join(', ');
    }
    case 'resync':
      return `${deviceId}: ${str(out['message']) ?? 'reconcile pass requested'}`;
    default:
      return `${deviceId}: ${type} done`;
  }
}

/** `outpost command show`. */
export function renderCommand(view: CommandViewBody, o: ViewOptions): string {
  const c = view.command;
  const r = view.result;
  const status: Cell =
    view.status === 'done'
      ? { text: r?.ok ? 'done (ok)' : 'done (failed)', style: r?.ok ? 'green' : 'red' }
      : { text: view.status, style: view.status === 'queued' ? 'yellow' : 'red' };
  const fields: [string, Cell][] = [
    ['Command', `${c.id} (${c.type}${c.workload ? ` ${c.workload}` : ''} on ${c.deviceId})`],
    ['Status', status],
    ['Sent', formatTime(view.sentAt, o.now)],
    ['Expires', formatTime(view.expiresAt, o.now)],
    ['Device', { text: view.online ? 'online' : 'offline', style: view.online ? 'green' : 'red' }],
  ];
  if (r) fields.push(['Answered', formatTime(r.at, o.now)]);
  if (r && !r.ok) fields.push(['Error', `${r.error ?? 'unknown'}${r.code ? ` (${r.code})` : ''}`]);
  fields.push(['Message', view.message]);
  const head = renderFields(fields, { color: o.color });
  if (view.status !== 'done' || !r?.ok) return head;
  const output = renderOutput(view, o);
  return c.type === 'logs' ? `${head}\n\n${output}` : `${head}\n${renderFields([['Result', output]], { color: o.color })}`;
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** `outpost telemetry`. */
export function renderTelemetry(deviceId: string, t: TelemetryBody | null, o: ViewOptions): string {
  if (!t) {
    return `${deviceId} has sent no telemetry yet (agents send a sample every --telemetry-interval seconds, default 300; 0 turns it off)`;
  }
  const fields: [string, Cell][] = [
    ['Sample', formatTime(t.at, o.now)],
    ['Uptime', `host ${formatDuration(t.uptimeSeconds * 1000)}, agent ${formatDuration(t.agentUptimeSeconds * 1000)}`],
    ['CPU', `${t.cpu.cores} cores, ${t.cpu.usagePct === null ? 'usage unknown' : `${t.cpu.usagePct}% busy`}, load ${t.cpu.loadAverage1m.toFixed(2)}`],
    ['Memory', `${bytes(t.memory.availableBytes)} available of ${bytes(t.memory.totalBytes)}`],
    ['Disk', `${t.disk.path}: ${bytes(t.disk.freeBytes)} free of ${bytes(t.disk.totalBytes)}`],
    ['MQTT', `${bytes(t.mqtt.bytesIn)} in, ${bytes(t.mqtt.bytesOut)} out`],
  ];
  const containers = t.containers.length
    ? renderTable(
        ['WORKLOAD', 'STATE', 'RESTARTS'],
        t.containers.map((c) => [c.workload, { text: c.state, style: c.state === 'running' ? 'green' : 'yellow' }, String(c.restartCount)]),
        { color: o.color, align: ['left', 'left', 'right'] },
      )
    : 'No containers.';
  return `${deviceId}\n${renderFields(fields, { color: o.color, indent: '  ' })}\n\n${containers}`;
}
