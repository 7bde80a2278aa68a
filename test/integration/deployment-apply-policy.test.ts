import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as S from '../../controller/http/schemas.js';
import { errorOf, freshId, startApi, type ApiRig } from '../helpers/api.js';
import { runCli } from '../helpers/cli-run.js';

const nightly = { cron: '0 2 * * *', durationMinutes: 120, timezone: 'Europe/Berlin' };

/** Apply windows, `after` and `force` on deployments (DD-040): API, desired documents and `outpost deploy`. */
describe('deployment apply policy', () => {
  let api: ApiRig;
  let url: string;

  beforeAll(async () => {
    api = await startApi();
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    const address = api.app.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(async () => {
    await api?.close();
  });

  async function setup(): Promise<{ app: string; device: string }> {
    const app = freshId('app');
    const device = freshId('dev');
    expect((await api.call('POST', '/v1/devices', { id: device, labels: { fleet: app } })).status).toBe(201);
    for (const version of ['1', '2']) {
      const res = await api.call('POST', '/v1/releases', { app, version, workloads: { main: { image: `busybox:1.3${version}` } } });
      expect(res.status, res.raw.body).toBe(201);
    }
    return { app, device };
  }

  async function desired(device: string) {
    const d = S.DesiredEnvelope.parse((await api.call('GET', `/v1/devices/${device}/desired`)).body).desired;
    if (!d) throw new Error(`no desired document for ${device}`);
    return d;
  }

  it('stores the policy, shows it, and puts it in the desired document; a policy change alone publishes a new version', async () => {
    const { app, device } = await setup();
    const plain = await api.call('POST', '/v1/deployments', { app, version: '1', target: { kind: 'devices', devices: [device] } });
    expect(plain.status, plain.raw.body).toBe(201);
    const before = await desired(device);
    expect(before.apply).toBeUndefined();
    expect(before.force).toBe(false);

    const id = freshId('dep');
    const body = { id, app, version: '1', target: { kind: 'devices', devices: [device] }, apply: { window: nightly, after: '2026-12-01T03:00:00+01:00', force: true } };
    const created = await api.call('POST', '/v1/deployments', body);
    expect(created.status, created.raw.body).toBe(201);
    const stored = { window: nightly, after: '2026-12-01T02:00:00.000Z', force: true };
    expect(S.CreatedDeployment.parse(created.body).deployment.apply).toEqual(stored);
    expect(S.DeploymentDetail.parse((await api.call('GET', `/v1/deployments/${id}`)).body).apply).toEqual(stored);
    expect(S.DeploymentList.parse((await api.call('GET', '/v1/deployments')).body).deployments.find((d) => d.id === id)?.apply).toEqual(stored);

    // Same workloads, new policy: a new version, so devices hear of it.
    const after = await desired(device);
    expect(after.workloads).toEqual(before.workloads);
    expect(after.version).toBeGreaterThan(before.version);
    expect(after.apply).toEqual({ after: '2026-12-01T02:00:00.000Z', window: nightly });
    expect(after.force).toBe(true);

    // A retry with the same policy is the same deployment; another policy under the id is a conflict.
    expect((await api.call('POST', '/v1/deployments', body)).status).toBe(200);
    const other = await api.call('POST', '/v1/deployments', { ...body, apply: { force: true } });
    expect(other.status).toBe(409);
    expect(errorOf(other).code).toBe('DEPLOYMENT_EXISTS');

    // Removing it restores the document without a policy, as a new version.
    expect((await api.call('DELETE', `/v1/deployments/${id}`)).status).toBe(200);
    const restored = await desired(device);
    expect(restored.version).toBeGreaterThan(after.version);
    expect(restored.apply).toBeUndefined();
    expect(restored.force).toBe(false);
  });

  it('the OpenAPI document describes the apply member of deployments', async () => {
    const doc = (await api.call('GET', '/openapi.json')).body as { components: { schemas: Record<string, { properties?: Record<string, unknown> }> } };
    const apply = doc.components.schemas.Deployment?.properties?.apply as { properties?: Record<string, unknown> } | undefined;
    expect(Object.keys(apply?.properties ?? {}).sort()).toEqual(['after', 'force', 'window']);
  });

  it.each<[string, unknown, string]>([
    ['an unknown timezone', { window: { ...nightly, timezone: 'Europe/Berln' } }, 'body.apply.window.timezone: unknown IANA timezone "Europe/Berln"'],
    ['a cron that does not parse', { window: { ...nightly, cron: '0 2 * * mon-xyz' } }, 'body.apply.window.cron: invalid cron "0 2 * * mon-xyz"'],
    ['a 6-field cron', { window: { ...nightly, cron: '0 0 2 * * *' } }, 'body.apply.window.cron: cron must have 5 fields'],
    ['a zero duration', { window: { ...nightly, durationMinutes: 0 } }, 'body.apply.window.durationMinutes'],
    ['a time without offset', { after: '2026-12-01T02:00:00' }, 'body.apply.after'],
    ['a non-boolean force', { force: 'yes' }, 'body.apply.force'],
  ])('refuses %s with a 400 that names the field, and stores nothing', async (_name, apply, message) => {
    const { app, device } = await setup();
    const id = freshId('dep');
    const res = await api.call('POST', '/v1/deployments', { id, app, version: '1', target: { kind: 'devices', devices: [device] }, apply });
    expect(res.status).toBe(400);
    expect(errorOf(res).message).toContain(message);
    expect((await api.call('GET', `/v1/deployments/${id}`)).status).toBe(404);
  });

  it('outpost deploy --window/--timezone/--after/--force sets the policy, and deployment ls/show print it', async () => {
    const { app, device } = await setup();
    const token = api.token;
    const id = freshId('dep');
    const deploy = await runCli(
      ['deploy', `${app}@2`, '--device', device, '--id', id, '--window', '0 2 * * *', '--window-duration', '120', '--timezone', 'Europe/Berlin', '--after', '2026-12-01T02:00:00Z', '--force'],
      { url, token },
    );
    expect(deploy.stderr).toBe('');
    expect(deploy.code).toBe(0);
    expect(deploy.stdout).toContain('applies in window "0 2 * * *" for 120 min (Europe/Berlin), after 2026-12-01T02:00:00.000Z, force (over update locks)');
    const doc = await desired(device);
    expect(doc.apply).toEqual({ window: nightly, after: '2026-12-01T02:00:00.000Z' });
    expect(doc.force).toBe(true);

    const show = await runCli(['deployment', 'show', id], { url, token });
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/Apply\s+in window "0 2 \* \* \*" for 120 min \(Europe\/Berlin\), after 2026-12-01T02:00:00.000Z, force/);
    const ls = await runCli(['deployment', 'ls'], { url, token });
    expect(ls.code).toBe(0);
    expect(ls.stdout).toContain('APPLY');
    expect(ls.stdout.split('\n').find((l) => l.includes(id))).toContain('in window "0 2 * * *"');

    const json = await runCli(['deployment', 'show', id, '--json'], { url, token });
    expect(JSON.parse(json.stdout)).toMatchObject({ apply: { window: nightly, after: '2026-12-01T02:00:00.000Z', force: true } });
  });

  it.each<[string, string[], string]>([
    ['a window without a duration', ['--window', '0 2 * * *'], '--window needs --window-duration MINUTES'],
    ['an unknown timezone', ['--window', '0 2 * * *', '--window-duration', '60', '--timezone', 'Mars/Olympus'], '--timezone must be an IANA timezone'],
    ['an after without offset', ['--after', '2026-12-01 02:00'], '--after must be a time with its offset'],
    ['a cron the API refuses', ['--window', '0 2 * * mon-xyz', '--window-duration', '60'], 'apply.window.cron: invalid cron'],
  ])('outpost deploy refuses %s on stderr with a non-zero exit, and deploys nothing', async (_name, flags, message) => {
    const { app, device } = await setup();
    const id = freshId('dep');
    const r = await runCli(['deploy', `${app}@1`, '--device', device, '--id', id, ...flags], { url, token: api.token });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(message);
    expect((await api.call('GET', `/v1/deployments/${id}`)).status).toBe(404);
  });
});
