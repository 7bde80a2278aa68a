import { ApiError } from '../api.js';
import { percentChart } from '../chart.js';
import { badge, button, h, replace, table } from '../dom.js';
import { ago, bytes, lag, phaseKind, time } from '../format.js';
import type { CommandView, DeviceDetail, DeviceEvent, Telemetry } from '../types.js';
import type { ViewFactory } from '../view.js';

const MAX_SAMPLES = 120;

/**
 * One device: state, labels, overrides, pins, desired vs reported per
 * workload with restart and logs buttons (the command channel, POST
 * /v1/devices/{id}/commands), the event timeline and a telemetry chart of
 * the samples seen while the page is open (the controller keeps the latest).
 */
export const deviceView: ViewFactory = (root, { api }, _params, [id = '']) => {
  const path = `/v1/devices/${encodeURIComponent(id)}`;
  const header = h('div', { id: 'device-header' });
  const meta = h('div', { class: 'grid2', id: 'device-meta' });
  const workloads = h('section', { id: 'device-workloads' });
  const command = h('section', { id: 'command-result', class: 'command-result', hidden: true });
  const telemetry = h('section', { id: 'device-telemetry' });
  const events = h('section', { id: 'device-events' });
  root.replaceChildren(h('p', {}, h('a', { href: '#/fleet' }, '← Fleet')), header, meta, workloads, command, telemetry, events);
  const samples = new Map<string, Telemetry>();

  const send = async (type: 'restart' | 'logs', workload: string): Promise<void> => {
    command.hidden = false;
    replace(command, h('h2', {}, `${type} ${workload}`), h('p', { class: 'muted' }, 'Sent; waiting for the device…'));
    try {
      const body = type === 'logs' ? { type, workload, tail: 100 } : { type, workload };
      const view = await api.post<CommandView>(`${path}/commands`, body);
      replace(command, h('h2', {}, `${type} ${workload}`), commandResult(view));
    } catch (err) {
      replace(command, h('h2', {}, `${type} ${workload}`), h('p', { class: 'error' }, err instanceof ApiError ? `${err.code}: ${err.message}` : String(err)));
    }
  };

  return {
    wants: (change) => change.truncated || change.devices.includes(id),
    async refresh() {
      let d: DeviceDetail;
      try {
        d = await api.get<DeviceDetail>(path);
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) {
          replace(header, h('h1', {}, id), h('p', { class: 'error' }, 'No such device (decommissioned?).'));
          return;
        }
        throw err;
      }
      const [{ events: evs }, { telemetry: t }] = await Promise.all([
        api.get<{ events: DeviceEvent[] }>(`${path}/events?limit=30`),
        api.get<{ telemetry: Telemetry | null }>(`${path}/telemetry`),
      ]);
      if (t) samples.set(t.at, t);
      const l = lag(d.desiredVersion, d.appliedVersion);
      replace(
        header,
        h('h1', {}, d.id, ' ', d.online ? badge('online', 'ok') : badge('offline', 'bad'), ' ', h('span', { id: 'device-phase' }, badge(d.phase, phaseKind(d.phase)))),
        h(
          'p',
          { class: 'versions' },
          'desired ',
          h('strong', { id: 'desired-version' }, d.desiredVersion ?? '–'),
          ' · applied ',
          h('strong', { id: 'applied-version' }, d.appliedVersion ?? '–'),
          ' · ',
          l === null ? 'no desired state yet' : l === 0 ? 'in sync' : `${l} behind`,
          ' · last seen ',
          ago(d.lastSeen),
          d.reported ? ` · agent ${d.reported.agent.version}` : '',
        ),
        d.problems.length ? h('ul', { class: 'problems' }, ...d.problems.map((p) => h('li', { class: 'error' }, p))) : null,
      );
      replace(
        meta,
        h('div', {}, h('h2', {}, 'Labels'), keyValues(d.labels)),
        h('div', {}, h('h2', {}, 'Overrides'), overridesOf(d.overrides)),
        h(
          'div',
          { class: 'wide' },
          h('h2', {}, 'Apps and pins'),
          d.apps.length === 0
            ? h('p', { class: 'muted' }, 'No app is deployed to this device.')
            : table(
                ['App', 'Version', 'From', 'Shadows'],
                d.apps.map((a) => [a.app, a.version, a.source === 'pin' ? badge(`pinned (deployment ${a.deploymentId})`, 'warn') : a.deploymentId, a.shadowed.join(', ') || '–']),
              ),
        ),
      );
      const names = [...new Set([...Object.keys(d.desired?.workloads ?? {}), ...Object.keys(d.reported?.workloads ?? {})])].sort();
      replace(
        workloads,
        h('h2', {}, 'Desired vs reported'),
        names.length === 0
          ? h('p', { class: 'muted' }, 'No workloads.')
          : table(
              ['Workload', `Desired (v${d.desired?.version ?? '–'})`, `Reported (v${d.reported?.desired.appliedVersion ?? '–'})`, 'State', 'Restarts', 'Actions'],
              names.map((name) => {
                const want = d.desired?.workloads[name];
                const have = d.reported?.workloads[name];
                return [
                  h('code', {}, name),
                  want ? h('code', {}, want.image) : h('span', { class: 'muted' }, 'to be removed'),
                  have ? h('code', {}, have.image) : h('span', { class: 'muted' }, 'not reported'),
                  have ? h('span', { title: have.reason }, badge(have.state, have.state === 'running' ? 'ok' : have.state === 'failed' ? 'bad' : 'warn')) : '–',
                  have?.restartCount ?? '–',
                  h(
                    'span',
                    { class: 'actions' },
                    button('Restart', () => send('restart', name), { 'data-action': 'restart', 'data-workload': name }),
                    button('Logs', () => send('logs', name), { 'data-action': 'logs', 'data-workload': name }),
                  ),
                ];
              }),
              { class: 'workloads' },
            ),
        d.reported?.errors.length ? h('ul', { class: 'problems' }, ...d.reported.errors.map((e) => h('li', { class: 'error' }, `${e.code}: ${e.message}`))) : null,
      );
      renderTelemetry(telemetry, [...samples.values()].slice(-MAX_SAMPLES));
      replace(
        events,
        h('h2', {}, 'Events'),
        evs.length === 0
          ? h('p', { class: 'muted' }, 'No events yet.')
          : h(
              'ol',
              { class: 'timeline', id: 'event-timeline' },
              ...evs.map((e) =>
                h(
                  'li',
                  { class: `event event-${e.level}` },
                  h('time', { datetime: e.at }, time(e.at)),
                  ' ',
                  badge(e.type, e.level === 'error' ? 'bad' : e.level === 'warn' ? 'warn' : 'muted'),
                  e.version !== null ? ` v${e.version}` : '',
                  e.workload ? ` ${e.workload}` : '',
                  ' — ',
                  e.message,
                ),
              ),
            ),
      );
    },
  };
};

function keyValues(kv: Record<string, string>): HTMLElement {
  const entries = Object.entries(kv);
  return entries.length === 0 ? h('p', { class: 'muted' }, 'none') : h('p', { class: 'labels' }, ...entries.map(([k, v]) => h('code', {}, `${k}=${v}`)));
}

/** Env overrides (device-wide and per workload) as KEY=value lists; pins are shown with the apps. */
function overridesOf(o: DeviceDetail['overrides']): HTMLElement {
  const env = o.env ?? {};
  const perWorkload = o.workloadEnv ?? {};
  const rows: [string, string][] = [
    ...Object.entries(env).map(([k, v]): [string, string] => ['all workloads', `${k}=${v}`]),
    ...Object.entries(perWorkload).flatMap(([w, kv]) => Object.entries(kv).map(([k, v]): [string, string] => [w, `${k}=${v}`])),
  ];
  const pins = Object.entries(o.pins ?? {});
  if (rows.length === 0 && pins.length === 0) return h('p', { class: 'muted' }, 'none');
  return h(
    'div',
    {},
    rows.length ? table(['Scope', 'Env'], rows.map(([scope, kv]) => [scope, h('code', {}, kv)])) : null,
    pins.length ? h('p', { class: 'labels' }, 'pins: ', ...pins.map(([app, v]) => h('code', {}, `${app}@${v}`))) : null,
  );
}

function commandResult(view: CommandView): HTMLElement {
  const answer = view.result;
  const text = typeof answer?.output?.text === 'string' ? answer.output.text : null;
  return h(
    'div',
    {},
    h(
      'p',
      {},
      'status ',
      h('strong', { id: 'command-status' }, view.status),
      answer ? ' · ' : '',
      answer ? (answer.ok ? badge('ok', 'ok') : badge('failed', 'bad')) : null,
      ' · ',
      view.message,
    ),
    answer?.error ? h('p', { class: 'error' }, answer.code ? `${answer.code}: ${answer.error}` : answer.error) : null,
    text !== null ? h('pre', { class: 'logs' }, text || '(no output)') : null,
    answer?.output && text === null ? h('pre', { class: 'json', id: 'command-json' }, JSON.stringify(answer.output, null, 2)) : null,
  );
}

function renderTelemetry(el: HTMLElement, samples: Telemetry[]): void {
  const last = samples[samples.length - 1];
  if (!last) {
    replace(el, h('h2', {}, 'Telemetry'), h('p', { class: 'muted' }, 'No sample yet (agents send one every --telemetry-interval seconds).'));
    return;
  }
  const memPct = (t: Telemetry): number => (100 * (t.memory.totalBytes - t.memory.availableBytes)) / (t.memory.totalBytes || 1);
  const diskPct = (t: Telemetry): number => (100 * (t.disk.totalBytes - t.disk.freeBytes)) / (t.disk.totalBytes || 1);
  const chart = percentChart([
    { name: 'CPU %', className: 'cpu', points: samples.filter((s) => s.cpu.usagePct !== null).map((s) => ({ t: Date.parse(s.at), v: s.cpu.usagePct ?? 0 })) },
    { name: 'Memory used %', className: 'mem', points: samples.map((s) => ({ t: Date.parse(s.at), v: memPct(s) })) },
    { name: 'Disk used %', className: 'disk', points: samples.map((s) => ({ t: Date.parse(s.at), v: diskPct(s) })) },
  ]);
  replace(
    el,
    h('h2', {}, 'Telemetry'),
    h(
      'p',
      { class: 'legend' },
      h('span', { class: 'key cpu' }, `CPU ${last.cpu.usagePct ?? '–'}% of ${last.cpu.cores} cores`),
      h('span', { class: 'key mem' }, `memory ${bytes(last.memory.totalBytes - last.memory.availableBytes)} / ${bytes(last.memory.totalBytes)}`),
      h('span', { class: 'key disk' }, `disk ${bytes(last.disk.totalBytes - last.disk.freeBytes)} / ${bytes(last.disk.totalBytes)}`),
      h('span', { class: 'muted' }, `sample ${ago(last.at)}, ${samples.length} since the page opened`),
    ),
    chart,
  );
}
