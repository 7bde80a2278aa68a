import { Api, ApiError, tokenStore } from './api.js';
import { button, h } from './dom.js';
import { LiveChanges, type LiveState } from './live.js';
import type { View, ViewContext, ViewFactory } from './view.js';
import { deploymentsView } from './views/deployments.js';
import { deviceView } from './views/device.js';
import { fleetView } from './views/fleet.js';
import { renderLogin } from './views/login.js';
import { rolloutsView, rolloutView } from './views/rollouts.js';

/**
 * The dashboard (DD-042): hash routes, one view at a time, redrawn from the
 * API when the change stream says something it shows changed. One refresh
 * runs at a time; changes meanwhile cause one more, never a queue.
 */
const ROUTES: { pattern: RegExp; view: ViewFactory; nav: string }[] = [
  { pattern: /^\/fleet$/, view: fleetView, nav: 'fleet' },
  { pattern: /^\/devices\/([^/]+)$/, view: deviceView, nav: 'fleet' },
  { pattern: /^\/deployments$/, view: deploymentsView, nav: 'deployments' },
  { pattern: /^\/rollouts$/, view: rolloutsView, nav: 'rollouts' },
  { pattern: /^\/rollouts\/([^/]+)$/, view: rolloutView, nav: 'rollouts' },
];

const api = new Api();
const app = document.getElementById('app') ?? document.body;
let current: View | null = null;
let refreshing: Promise<void> | null = null;
let again = false;
let live: LiveChanges | null = null;

const liveBadge = h('span', { id: 'live', class: 'live live-connecting' }, 'connecting');
const flashBox = h('div', { id: 'flash', role: 'alert', hidden: true });
const main = h('main', { id: 'view' });

function setLive(state: LiveState): void {
  liveBadge.textContent = state;
  liveBadge.className = `live live-${state}`;
}

function flash(message: string, kind: 'error' | 'info' = 'error'): void {
  flashBox.hidden = false;
  flashBox.className = `flash flash-${kind}`;
  flashBox.textContent = message;
}

function refresh(): void {
  if (refreshing) {
    again = true;
    return;
  }
  const view = current;
  if (!view) return;
  refreshing = view
    .refresh()
    .then(() => {
      if (flashBox.className.includes('flash-error')) flashBox.hidden = true;
      document.body.dataset.refreshedAt = String(Date.now());
    })
    .catch((err: unknown) => {
      if (err instanceof ApiError && err.status === 401) return;
      flash(err instanceof ApiError ? `${err.code}: ${err.message}` : `Cannot load: ${String(err)}`);
    })
    .finally(() => {
      refreshing = null;
      // A change, or a new view, arrived while this ran: one more refresh of whatever is shown now.
      if (again) {
        again = false;
        refresh();
      }
    });
}

function logout(): void {
  tokenStore.clear();
  live?.stop();
  live = null;
  current = null;
  showLogin();
}

function showLogin(): void {
  document.body.className = 'logged-out';
  renderLogin(app, api, () => {
    if (!location.hash || location.hash === '#/login') location.hash = '#/fleet';
    showShell();
  });
}

function showShell(): void {
  document.body.className = 'logged-in';
  const nav = h(
    'nav',
    {},
    h('span', { class: 'brand' }, 'Outpost'),
    h('a', { href: '#/fleet', 'data-nav': 'fleet' }, 'Fleet'),
    h('a', { href: '#/deployments', 'data-nav': 'deployments' }, 'Deployments'),
    h('a', { href: '#/rollouts', 'data-nav': 'rollouts' }, 'Rollouts'),
    h('span', { class: 'spacer' }),
    liveBadge,
    button('Log out', logout, { id: 'logout' }),
  );
  app.replaceChildren(h('header', {}, nav), flashBox, main);
  live?.stop();
  live = new LiveChanges({
    onState: setLive,
    onOpen: refresh,
    onChange: (change) => {
      if (current?.wants(change)) refresh();
    },
    onUnauthorized: logout,
  });
  live.start();
  route();
}

function route(): void {
  if (!tokenStore.get()) return;
  const [path = '/fleet', query = ''] = location.hash.replace(/^#/, '').split('?');
  const match = ROUTES.map((r) => ({ r, m: r.pattern.exec(path) })).find((x) => x.m);
  if (!match?.m) {
    location.hash = '#/fleet';
    return;
  }
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a[data-nav]')) a.classList.toggle('active', a.dataset.nav === match.r.nav);
  flashBox.hidden = true;
  const ctx: ViewContext = { api, flash };
  const args = match.m.slice(1).map((s) => decodeURIComponent(s));
  current = match.r.view(main, ctx, new URLSearchParams(query), args);
  again = false;
  refresh();
}

// A wrong token typed into the login form is the form's business; a stored one that stops working logs out.
api.onUnauthorized = () => {
  if (tokenStore.get()) logout();
};
window.addEventListener('hashchange', route);
if (tokenStore.get()) showShell();
else showLogin();
