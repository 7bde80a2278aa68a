import type { RolloutCountsBody, RolloutDetailBody, RolloutSummaryBody } from '../client/rollout-client.js';
import { formatAgo, formatTime, formatVersion, type ViewOptions } from './format.js';
import { paint, renderFields, renderTable, type Style } from './table.js';

/** Human views of rollouts. Pure: time comes in through ViewOptions. Waves are numbered from 0, as in the API and in reasons. */

const PHASE_STYLE: Record<string, Style> = {
  succeeded: 'green',
  running: 'bold',
  scheduled: 'dim',
  paused: 'yellow',
  aborted: 'yellow',
  'rolling-back': 'red',
  'rolled-back': 'red',
};

type Wave = RolloutSummaryBody['waves'][number];

function waveState(w: Wave, r: RolloutSummaryBody): string {
  if (w.outcome) return w.manual ? `${w.outcome} (by hand)` : w.outcome;
  if (w.startedAt) return w.index === r.currentWave && r.phase === 'running' ? 'running' : 'started';
  return 'waiting';
}

/** "2/3 ok, 1 applying": the counts that are not zero, success first. */
export function countsText(c: RolloutCountsBody, size: number): string {
  const parts = [`${c.succeeded}/${size} ok`];
  if (c.failed) parts.push(`${c.failed} failed`);
  if (c.timedOut) parts.push(`${c.timedOut} timed out`);
  if (c.applying) parts.push(`${c.applying} applying`);
  if (c.notified) parts.push(`${c.notified} notified`);
  if (c.pending && c.pending < size) parts.push(`${c.pending} pending`);
  return parts.join(', ');
}

export function renderRolloutList(rollouts: readonly RolloutSummaryBody[], o: ViewOptions): string {
  if (rollouts.length === 0) return 'No rollouts.';
  return renderTable(
    ['ID', 'RELEASE', 'PHASE', 'WAVE', 'DEVICES', 'CREATED'],
    rollouts.map((r) => {
      const size = r.waves.reduce((n, w) => n + w.size, 0);
      return [
        r.id,
        `${r.app}@${r.toVersion}`,
        { text: r.phase, style: PHASE_STYLE[r.phase] },
        r.waves.length ? `${r.currentWave} of ${r.waves.length}` : '-',
        countsText(r.totals, size),
        formatAgo(r.createdAt, o.now),
      ];
    }),
    { color: o.color },
  );
}

export function renderRolloutDetail(r: RolloutDetailBody, o: ViewOptions): string {
  const head = renderFields(
    [
      ['Rollout', r.id],
      ['Release', `${r.app}@${r.toVersion}`],
      ['Phase', { text: r.phase, style: PHASE_STYLE[r.phase] }],
      ['Reason', r.reason ?? '-'],
      ['Deployment', r.deploymentId],
      ['Created', formatTime(r.createdAt, o.now)],
      ['Updated', formatTime(r.updatedAt, o.now)],
    ],
    { color: o.color },
  );
  const waves = renderTable(
    ['WAVE', 'STATE', 'DEVICES', 'PROGRESS', 'REASON'],
    r.waves.map((w) => [
      `${w.index}${w.canary ? ' (canary)' : ''}`,
      waveState(w, r),
      String(w.size),
      countsText(w.counts, w.size),
      w.reason ?? '',
    ]),
    { color: o.color, align: ['left', 'left', 'right'] },
  );
  const devices = renderTable(
    ['DEVICE', 'WAVE', 'STATUS', 'VERSION', 'NOTIFIED', 'REASON'],
    r.devices.map((d) => [
      d.deviceId,
      String(d.wave),
      { text: d.lateSuccess ? `${d.status} (late success)` : d.status, style: deviceStyle(d.status) },
      formatVersion(d.version),
      d.notifiedAt ? formatAgo(d.notifiedAt, o.now) : '-',
      d.reason ?? '',
    ]),
    { color: o.color, align: ['left', 'right'] },
  );
  return `${head}\n\nWaves\n${waves}\n\nDevices\n${devices}`;
}

function deviceStyle(status: string): Style | undefined {
  if (status === 'succeeded') return 'green';
  if (status === 'failed' || status === 'timed-out') return 'red';
  if (status === 'pending') return 'dim';
  return undefined;
}

/** A progress bar: █ succeeded, ▓ failed or timed out, ▒ in flight, · pending. */
export function progressBar(c: RolloutCountsBody, size: number, width: number, color: boolean): string {
  if (size === 0) return ' '.repeat(width);
  const cells = (n: number): number => Math.round((n / size) * width);
  const ok = cells(c.succeeded);
  const bad = Math.min(width - ok, cells(c.failed + c.timedOut));
  const busy = Math.min(width - ok - bad, cells(c.notified + c.applying));
  const rest = width - ok - bad - busy;
  return `${paint('█'.repeat(ok), 'green', color)}${paint('▓'.repeat(bad), 'red', color)}${paint('▒'.repeat(busy), 'yellow', color)}${paint('·'.repeat(rest), 'dim', color)}`;
}

/** The frame `rollout watch` redraws in place on a terminal. */
export function watchFrame(r: RolloutSummaryBody, o: ViewOptions): string[] {
  const wave = r.waves.length ? `wave ${r.currentWave} of ${r.waves.length}, from 0` : 'no waves';
  const lines = [`Rollout ${r.id}  ${r.app} → ${r.toVersion}  ${paint(r.phase, PHASE_STYLE[r.phase], o.color)}  (${wave})`];
  for (const w of r.waves) {
    const label = `wave ${w.index}${w.canary ? '*' : ''}`.padEnd(8);
    lines.push(`  ${label} [${progressBar(w.counts, w.size, 24, o.color)}] ${countsText(w.counts, w.size).padEnd(34)} ${waveState(w, r)}`);
  }
  const late = r.lateSuccesses ? `, ${r.lateSuccesses} late successes` : '';
  const size = r.waves.reduce((n, w) => n + w.size, 0);
  lines.push(`  total    ${countsText(r.totals, size)}${late}`);
  if (r.reason) lines.push(`  ${r.reason}`);
  return lines;
}

/** One line per change when the output is not a terminal (logs, CI). */
export function watchLine(r: RolloutSummaryBody): string {
  const waves = r.waves.map((w) => `w${w.index} ${waveState(w, r)} ${countsText(w.counts, w.size)}`).join('; ');
  const late = r.lateSuccesses ? `; ${r.lateSuccesses} late successes` : '';
  return `${r.id} ${r.phase}${r.waves.length ? ` at wave ${r.currentWave} of ${r.waves.length}` : ''}: ${waves}${late}${r.reason && r.phase !== 'running' ? ` (${r.reason})` : ''}`;
}

/**
 * Why a rollout stopped, device by device: the failed and timed-out devices
 * with their reasons (at most `max`, then how many more), for the end of
 * `rollout watch`. Empty when none failed.
 */
export function failureLines(r: RolloutDetailBody, max = 10): string[] {
  const failed = r.devices.filter((d) => d.status === 'failed' || d.status === 'timed-out');
  const lines = failed.slice(0, max).map((d) => `  ${d.deviceId} (wave ${d.wave}) ${d.status}${d.reason ? `: ${d.reason}` : ''}`);
  if (failed.length > max) lines.push(`  … and ${failed.length - max} more: outpost rollout show ${r.id}`);
  return failed.length === 0 ? [] : [`Failed devices (${failed.length}):`, ...lines];
}
