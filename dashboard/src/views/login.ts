import { ApiError, tokenStore, type Api } from '../api.js';
import { h } from '../dom.js';

/** The token form: checked against GET /v1/fleet before it is kept. */
export function renderLogin(root: HTMLElement, api: Api, onLoggedIn: () => void): void {
  const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'off', placeholder: 'API token', required: true });
  const message = h('p', { class: 'login-message', role: 'alert' });
  const submit = h('button', { type: 'submit', id: 'login' }, 'Log in');
  const form = h(
    'form',
    { class: 'login', id: 'login-form' },
    h('h1', {}, 'Outpost'),
    h('p', { class: 'muted' }, 'Paste an API token (the admin token, or one made with outpost token create). It is kept in this tab only.'),
    h('label', { for: 'token' }, 'API token'),
    input,
    submit,
    message,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    submit.disabled = true;
    api
      .call('GET', '/v1/fleet', undefined, token)
      .then(() => {
        tokenStore.set(token);
        onLoggedIn();
      })
      .catch((err: unknown) => {
        message.textContent = err instanceof ApiError && err.status === 401 ? 'That token is not valid (wrong, or revoked).' : `Cannot log in: ${String(err)}`;
      })
      .finally(() => {
        submit.disabled = false;
      });
  });
  root.replaceChildren(form);
  input.focus();
}
