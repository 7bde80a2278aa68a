import { ApiError } from '../api.js';
import { badge, button, h, replace, table } from '../dom.js';
import { ago } from '../format.js';
import type { Rollout, RolloutCounts } from '../types.js';
import type { ViewFactory } from '../view.js';

const OPERATIONS = ['pause', 'resume', 'advance', 'abort', 'rollback'] as const;

function phaseKind(phase: string): string {
  if (phase === 'succeeded') return 'ok';
  if (phase === 'running' || phase === 'scheduled') return 'info';
  if (phase === 'paused' || phase === 'rolling-back') return 'warn';
  return 'bad';
}

/** Share of a wave's devices that finished (succeeded, failed or timed out), as a bar. */
function progress(counts: RolloutCounts, size: number): HTMLElement {
  const done = (counts.succeeded ?? 0) + (counts.failed ?? 0) + (counts.timedOut ?? 0);
  const ok = document.createElement('span');
  ok.className = 'bar-ok';
  ok.style.width = `${size ? (100 * (counts.succeeded ?? 0)) / size : 0}%`;
  const bad = document.createElement('span');
  bad.className = 'bar-bad';
  bad.style.width = `${size ? (100 * ((counts.failed ?? 0) + (counts.timedOut ?? 0))) / size : 0}%`;
  return h('span', { class: 'progress', title: `${done}/${size}` }, h('span', { class: 'bar' }, ok, bad), ` ${done}/${size}`);
}

function countsText(c: RolloutCounts): string {
  return Object.entries(c)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
}

/** Rollouts, newest first, with per-wave progress; refetched on every rollout status the controller publishes. */
export const rolloutsView: ViewFactory = (root, { api }) => {
  const list = h('section', { id: 'rollouts' });
  root.replaceChildren(h('h1', {}, 'Rollouts'), list);
  return {
    wants: (change) => change.truncated || change.rollouts.length > 0,
    async refresh() {
      const { rollouts } = await api.get<{ rollouts: Rollout[] }>('/v1/rollouts');
      replace(
        list,
        rollouts.length === 0
          ? h('p', { class: 'muted' }, 'No rollouts yet: outpost rollout create.')
          : table(
              ['Rollout', 'Release', 'Phase', 'Wave', 'Progress', 'Updated'],
              rollouts.map((r) => {
                const total = r.waves.reduce((n, w) => n + w.size, 0);
                return [
                  h('a', { href: `#/rollouts/${encodeURIComponent(r.id)}` }, r.id),
                  `${r.app}@${r.toVersion}`,
                  badge(r.phase, phaseKind(r.phase)),
                  `${Math.min(r.currentWave + 1, r.waves.length)}/${r.waves.length}`,
                  progress(r.totals, total),
                  ago(r.updatedAt),
                ];
              }),
              { class: 'rollouts' },
            ),
      );
    },
  };
};

/** One rollout: its waves live, its devices, and the operator's buttons. */
export const rolloutView: ViewFactory = (root, { api }, _params, [id = '']) => {
  const path = `/v1/rollouts/${encodeURIComponent(id)}`;
  const header = h('div', { id: 'rollout-header' });
  const actionMessage = h('p', { id: 'rollout-action', class: 'muted', role: 'status' });
  const actions = h('div', { class: 'actions', id: 'rollout-actions' });
  const waves = h('section', { id: 'rollout-waves' });
  const devices = h('section', { id: 'rollout-devices' });
  root.replaceChildren(h('p', {}, h('a', { href: '#/rollouts' }, '← Rollouts')), header, actions, actionMessage, waves, devices);
  let rollout: Rollout | null = null;

  const operate = async (operation: (typeof OPERATIONS)[number]): Promise<void> => {
    actionMessage.textContent = `${operation}…`;
    try {
      const { rollout: r } = await api.post<{ rollout: Rollout }>(`${path}/${operation}`);
      actionMessage.textContent = `${operation}: now ${r.phase}`;
      draw(r);
    } catch (err) {
      actionMessage.textContent = err instanceof ApiError ? `${operation} refused: ${err.message}` : `${operation} failed: ${String(err)}`;
    }
  };
  for (const op of OPERATIONS) actions.appendChild(button(op[0]?.toUpperCase() + op.slice(1), () => operate(op), { 'data-action': op, class: op === 'abort' || op === 'rollback' ? 'danger' : undefined }));

  const draw = (r: Rollout): void => {
    rollout = r;
    replace(
      header,
      h('h1', {}, `Rollout ${r.id} `, h('span', { id: 'rollout-phase' }, badge(r.phase, phaseKind(r.phase)))),
      h('p', {}, `${r.app}@${r.toVersion} · wave ${Math.min(r.currentWave + 1, r.waves.length)} of ${r.waves.length}`, r.reason ? ` · ${r.reason}` : ''),
    );
    replace(
      waves,
      h('h2', {}, 'Waves'),
      table(
        ['Wave', 'Devices', 'Progress', 'Counts', 'Outcome'],
        r.waves.map((w) => [
          `${w.index + 1}${w.canary ? ' (canary)' : ''}`,
          w.size,
          progress(w.counts, w.size),
          countsText(w.counts) || '–',
          w.outcome ? h('span', { title: w.reason ?? '' }, badge(w.outcome, w.outcome === 'passed' ? 'ok' : 'bad')) : w.startedAt ? badge('in progress', 'info') : badge('waiting', 'muted'),
        ]),
        { class: 'waves' },
      ),
    );
    replace(
      devices,
      h('h2', {}, 'Devices'),
      table(
        ['Device', 'Wave', 'Status', 'Reason'],
        (r.devices ?? []).map((d) => [
          h('a', { href: `#/devices/${encodeURIComponent(d.deviceId)}` }, d.deviceId),
          d.wave + 1,
          badge(d.status, d.status === 'succeeded' ? 'ok' : d.status === 'failed' || d.status === 'timed-out' ? 'bad' : 'muted'),
          d.reason ?? '',
        ]),
      ),
    );
  };

  return {
    wants: (change) => change.truncated || change.rollouts.includes(id) || (rollout?.devices ?? []).some((d) => change.devices.includes(d.deviceId)),
    async refresh() {
      const { rollout: r } = await api.get<{ rollout: Rollout }>(path);
      draw(r);
    },
  };
};
