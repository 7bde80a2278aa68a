import { badge, h, replace, table } from '../dom.js';
import { ago, lag, phaseKind } from '../format.js';
import type { DeviceSummary, FleetSummary } from '../types.js';
import type { ViewFactory } from '../view.js';

/** Fleet: counts, a label-selector filter, one row per device. Any device change refetches (coalesced server-side). */
export const fleetView: ViewFactory = (root, { api }, params) => {
  const selector = params.get('selector') ?? '';
  const input = h('input', { type: 'search', id: 'selector', placeholder: 'label selector, e.g. role=kiosk,site!=lab', value: selector });
  const form = h('form', { class: 'filter', id: 'filter-form' }, h('label', { for: 'selector' }, 'Filter'), input, h('button', { type: 'submit' }, 'Apply'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const s = input.value.trim();
    location.hash = s ? `#/fleet?selector=${encodeURIComponent(s)}` : '#/fleet';
  });
  const summary = h('div', { class: 'cards', id: 'fleet-summary' });
  const list = h('div', { id: 'fleet-table' });
  root.replaceChildren(h('h1', {}, 'Fleet'), summary, form, list);

  return {
    wants: () => true,
    async refresh() {
      const query = selector ? `?selector=${encodeURIComponent(selector)}` : '';
      const [fleet, { devices }] = await Promise.all([api.get<FleetSummary>('/v1/fleet'), api.get<{ devices: DeviceSummary[] }>(`/v1/devices${query}`)]);
      replace(
        summary,
        card('Devices', fleet.devices),
        card('Online', fleet.online, 'ok'),
        card('Offline', fleet.offline, fleet.offline > 0 ? 'bad' : 'muted'),
        card('In sync', fleet.inSync),
        card('Pending publish', fleet.pending, fleet.pending > 0 ? 'warn' : 'muted'),
        h('div', { class: 'card phases' }, h('div', { class: 'card-label' }, 'By phase'), ...Object.entries(fleet.byPhase).map(([p, n]) => badge(`${p} ${n}`, phaseKind(p)))),
      );
      const rows = devices.map((d) => {
        const l = lag(d.desiredVersion, d.appliedVersion);
        return [
          h('a', { href: `#/devices/${encodeURIComponent(d.id)}`, class: 'device-link' }, d.id),
          h('span', { class: 'labels' }, ...Object.entries(d.labels).map(([k, v]) => h('code', {}, `${k}=${v}`))),
          d.online ? badge('online', 'ok') : badge('offline', 'bad'),
          badge(d.phase, phaseKind(d.phase)),
          d.desiredVersion ?? '–',
          d.appliedVersion ?? '–',
          l === null ? '–' : l === 0 ? badge('in sync', 'ok') : badge(`${l} behind`, 'warn'),
          ago(d.lastSeen),
        ];
      });
      replace(
        list,
        devices.length === 0
          ? h('p', { class: 'muted' }, selector ? `No device matches ${selector}.` : 'No devices yet: enroll one with outpost device add.')
          : h(
              'div',
              {},
              selector ? h('p', { class: 'muted', id: 'fleet-count' }, `${devices.length} of ${fleet.devices} devices match ${selector}`) : null,
              table(['Device', 'Labels', 'Presence', 'Phase', 'Desired', 'Applied', 'Lag', 'Last seen'], rows, { class: 'devices' }),
            ),
      );
    },
  };
};

function card(label: string, value: number, kind = 'muted'): HTMLElement {
  return h('div', { class: `card card-${kind}` }, h('div', { class: 'card-value' }, value), h('div', { class: 'card-label' }, label));
}
