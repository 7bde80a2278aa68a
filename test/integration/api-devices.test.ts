import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as S from '../../controller/http/schemas.js';
import { Topics } from '../../shared/topics.js';
import { errorOf, freshId, startApi, type ApiRig } from '../helpers/api.js';
import { waitFor } from '../helpers/wait-for.js';

/** The devices resource through the HTTP API, on a real Redis, broker and controller. */
describe('HTTP API: devices', () => {
  let api: ApiRig;
  const topics = new Topics();

  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(async () => {
    await api?.close();
  });

  async function enroll(labels?: Record<string, string>): Promise<{ id: string; secret: string }> {
    const id = freshId('dev');
    const res = await api.call('POST', '/v1/devices', { id, ...(labels ? { labels } : {}) });
    expect(res.status, res.raw.body).toBe(201);
    return { id, secret: S.CreatedDevice.parse(res.body).secret };
  }

  async function release(app: string, version: string, image = 'busybox:1'): Promise<void> {
    const res = await api.call('POST', '/v1/releases', { app, version, workloads: { main: { image, env: { FROM: 'release' } } } });
    expect([200, 201], res.raw.body).toContain(res.status);
  }

  async function desiredOf(id: string) {
    const res = await api.call('GET', `/v1/devices/${id}/desired`);
    expect(res.status, res.raw.body).toBe(200);
    return S.DesiredEnvelope.parse(res.body).desired;
  }

  it('enrolls a device: 201 with the device and a secret that the broker accepts', async () => {
    const id = freshId('dev');
    const res = await api.call('POST', '/v1/devices', { id, labels: { site: 'a', role: 'kiosk' } });
    expect(res.status).toBe(201);
    const created = S.CreatedDevice.parse(res.body);
    expect(created.device).toMatchObject({ id, labels: { site: 'a', role: 'kiosk' }, overrides: { env: {}, workloadEnv: {}, pins: {} } });
    expect(created.secret.length).toBeGreaterThanOrEqual(16);

    const client = await mqtt.connectAsync(api.rig.brokerUrl, { clientId: id, username: id, password: created.secret, reconnectPeriod: 0 });
    await client.endAsync();
  });

  it('refuses a duplicate device id with 409 DEVICE_EXISTS', async () => {
    const { id } = await enroll();
    const res = await api.call('POST', '/v1/devices', { id });
    expect(res.status).toBe(409);
    expect(errorOf(res)).toEqual({ code: 'DEVICE_EXISTS', message: `device ${id} already exists` });
  });

  it('lists devices, filtered by a label selector', async () => {
    const site = freshId('site');
    const a = await enroll({ site, role: 'kiosk' });
    const b = await enroll({ site, role: 'sensor' });
    const c = await enroll({ site: freshId('other') });

    const all = await api.call('GET', '/v1/devices');
    expect(all.status).toBe(200);
    const ids = S.DeviceList.parse(all.body).devices.map((d) => d.id);
    expect(ids).toEqual(expect.arrayContaining([a.id, b.id, c.id]));

    const kiosks = await api.call('GET', `/v1/devices?selector=${encodeURIComponent(`site=${site},role in (kiosk)`)}`);
    expect(kiosks.status).toBe(200);
    const rows = S.DeviceList.parse(kiosks.body).devices;
    expect(rows.map((d) => d.id)).toEqual([a.id]);
    expect(rows[0]).toEqual({
      id: a.id,
      labels: { site, role: 'kiosk' },
      createdAt: expect.any(String),
      online: false,
      lastSeen: null,
      phase: 'unknown',
      desiredVersion: null,
      appliedVersion: null,
      pending: false,
      decommissioning: false,
      inSync: true,
    });

    const notKiosk = await api.call('GET', `/v1/devices?selector=${encodeURIComponent(`site=${site},!role,role notin (kiosk)`)}`);
    expect(S.DeviceList.parse(notKiosk.body).devices).toEqual([]);
  });

  it('shows one device in detail', async () => {
    const { id } = await enroll({ site: 'a' });
    const res = await api.call('GET', `/v1/devices/${id}`);
    expect(res.status).toBe(200);
    expect(S.DeviceDetail.parse(res.body)).toMatchObject({
      id,
      labels: { site: 'a' },
      overrides: { env: {}, workloadEnv: {}, pins: {} },
      apps: [],
      problems: [],
      desired: null,
      reported: null,
      presence: null,
    });
  });

  it('moves a device into a selector deployment by a label change, and out again', async () => {
    const app = freshId('app');
    const scope = freshId('scope');
    await release(app, '1.0.0');
    const dep = await api.call('POST', '/v1/deployments', { app, version: '1.0.0', target: { kind: 'selector', selector: `scope=${scope}` } });
    expect(dep.status, dep.raw.body).toBe(201);
    const { id } = await enroll();
    expect(await desiredOf(id)).toBeNull();

    const added = await api.call('PATCH', `/v1/devices/${id}/labels`, { set: { scope, 'example.com/tier': 'gold' } });
    expect(added.status, added.raw.body).toBe(200);
    expect(S.DeviceEnvelope.parse(added.body).device.labels).toEqual({ scope, 'example.com/tier': 'gold' });
    const desired = await desiredOf(id);
    expect(desired?.workloads[`${app}-main`]?.image).toBe('busybox:1');
    expect(desired?.version).toBe(1);

    const removed = await api.call('PATCH', `/v1/devices/${id}/labels`, { remove: ['scope'] });
    expect(S.DeviceEnvelope.parse(removed.body).device.labels).toEqual({ 'example.com/tier': 'gold' });
    const after = await desiredOf(id);
    expect(after?.version).toBe(2);
    expect(after?.workloads).toEqual({});
  });

  it('sets and removes per-device env overrides (null removes a key)', async () => {
    const app = freshId('app');
    await release(app, '1.0.0');
    const { id } = await enroll();
    await api.call('POST', '/v1/deployments', { app, version: '1.0.0', target: { kind: 'devices', devices: [id] } });
    const workload = `${app}-main`;

    const set = await api.call('PATCH', `/v1/devices/${id}/overrides`, { env: { SITE: 'a', FROM: 'device' }, workloadEnv: { [workload]: { ONLY_HERE: '1' } } });
    expect(set.status, set.raw.body).toBe(200);
    expect(S.DeviceEnvelope.parse(set.body).device.overrides).toEqual({
      env: { SITE: 'a', FROM: 'device' },
      workloadEnv: { [workload]: { ONLY_HERE: '1' } },
      pins: {},
    });
    expect((await desiredOf(id))?.workloads[workload]?.env).toEqual({ FROM: 'device', SITE: 'a', ONLY_HERE: '1' });

    const unset = await api.call('PATCH', `/v1/devices/${id}/overrides`, { env: { FROM: null }, workloadEnv: { [workload]: { ONLY_HERE: null } } });
    expect(S.DeviceEnvelope.parse(unset.body).device.overrides).toEqual({ env: { SITE: 'a' }, workloadEnv: {}, pins: {} });
    expect((await desiredOf(id))?.workloads[workload]?.env).toEqual({ FROM: 'release', SITE: 'a' });
  });

  it('pins an app to a version and unpins it', async () => {
    const app = freshId('app');
    await release(app, '1.0.0', 'busybox:1');
    await release(app, '2.0.0', 'busybox:2');
    const { id } = await enroll();
    await api.call('POST', '/v1/deployments', { app, version: '2.0.0', target: { kind: 'devices', devices: [id] } });
    expect((await desiredOf(id))?.workloads[`${app}-main`]?.image).toBe('busybox:2');

    const pinned = await api.call('PUT', `/v1/devices/${id}/pins/${app}`, { version: '1.0.0' });
    expect(pinned.status, pinned.raw.body).toBe(200);
    expect(S.DeviceEnvelope.parse(pinned.body).device.overrides.pins).toEqual({ [app]: '1.0.0' });
    const desired = await desiredOf(id);
    expect(desired?.workloads[`${app}-main`]?.image).toBe('busybox:1');
    expect(desired?.provenance[`${app}-main`]?.release).toBe(`${app}@1.0.0`);
    const detail = S.DeviceDetail.parse((await api.call('GET', `/v1/devices/${id}`)).body);
    expect(detail.apps).toEqual([expect.objectContaining({ app, version: '1.0.0', source: 'pin' })]);

    const missing = await api.call('PUT', `/v1/devices/${id}/pins/${app}`, { version: '9.9.9' });
    expect(missing.status).toBe(404);
    expect(errorOf(missing).code).toBe('RELEASE_NOT_FOUND');

    const unpinned = await api.call('DELETE', `/v1/devices/${id}/pins/${app}`);
    expect(unpinned.status).toBe(200);
    expect(S.DeviceEnvelope.parse(unpinned.body).device.overrides.pins).toEqual({});
    expect((await desiredOf(id))?.workloads[`${app}-main`]?.image).toBe('busybox:2');
  });

  it('shows reported state, presence and events that the device publishes', async () => {
    const { id, secret } = await enroll();
    const before = await api.call('GET', `/v1/devices/${id}/reported`);
    expect(before.status).toBe(200);
    expect(S.ReportedEnvelope.parse(before.body)).toEqual({ reported: null, presence: null, online: false, lastSeen: null });
    expect(S.EventList.parse((await api.call('GET', `/v1/devices/${id}/events`)).body).events).toEqual([]);

    const device = await mqtt.connectAsync(api.rig.brokerUrl, { clientId: id, username: id, password: secret, reconnectPeriod: 0 });
    try {
      const at = new Date().toISOString();
      await device.publishAsync(topics.presence(id), JSON.stringify({ protocol: 1, deviceId: id, status: 'online', epoch: 1, at }), { qos: 1, retain: true });
      await device.publishAsync(
        topics.reported(id),
        JSON.stringify({
          protocol: 1,
          deviceId: id,
          reportedAt: at,
          agent: { version: 't', bootId: 'b', startedAt: at },
          desired: { seenVersion: null, appliedVersion: null, applyingVersion: null },
          phase: 'idle',
          workloads: {},
          errors: [],
          rejected: null,
        }),
        { qos: 1, retain: true },
      );
      for (const n of [1, 2, 3]) {
        const event = { protocol: 1, deviceId: id, id: `${id}-e${n}`, at, type: 'agent.started', level: 'info', message: `start ${n}` };
        await device.publishAsync(topics.events(id), JSON.stringify(event), { qos: 1 });
      }
      const reported = await waitFor(
        async () => {
          const r = S.ReportedEnvelope.parse((await api.call('GET', `/v1/devices/${id}/reported`)).body);
          return r.reported && r.online ? r : null;
        },
        { timeoutMs: 10_000, description: 'report and presence ingested' },
      );
      expect(reported.reported?.phase).toBe('idle');
      expect(reported.presence?.status).toBe('online');
      expect(reported.lastSeen).toEqual(expect.any(String));

      const events = await waitFor(
        async () => {
          const e = S.EventList.parse((await api.call('GET', `/v1/devices/${id}/events`)).body).events;
          return e.length === 3 ? e : null;
        },
        { timeoutMs: 10_000, description: 'three events ingested' },
      );
      expect(events.map((e) => e.message)).toEqual(['start 3', 'start 2', 'start 1']);
      const limited = await api.call('GET', `/v1/devices/${id}/events?limit=2`);
      expect(S.EventList.parse(limited.body).events.map((e) => e.message)).toEqual(['start 3', 'start 2']);
    } finally {
      await device.endAsync(true);
    }
  });

  it('decommissions a device: 200 done, a retry answers the same, its records are gone and its secret stops working', async () => {
    const { id, secret } = await enroll();
    const res = await api.call('DELETE', `/v1/devices/${id}`);
    expect(res.status).toBe(200);
    const done = S.DecommissionEnvelope.parse(res.body).decommission;
    expect(done).toMatchObject({ deviceId: id, state: 'done', remaining: [], wiped: 'not-requested', lastError: null });
    for (const url of [`/v1/devices/${id}`, `/v1/devices/${id}/desired`, `/v1/devices/${id}/reported`, `/v1/devices/${id}/events`]) {
      const gone = await api.call('GET', url);
      expect(gone.status, url).toBe(404);
      expect(errorOf(gone)).toEqual({ code: 'DEVICE_NOT_FOUND', message: `device ${id} does not exist` });
    }
    const retried = await api.call('DELETE', `/v1/devices/${id}`);
    expect(retried.status).toBe(200);
    expect(S.DecommissionEnvelope.parse(retried.body).decommission).toEqual(done);
    expect((await api.call('DELETE', `/v1/devices/${freshId('never')}`)).status).toBe(404);
    await expect(mqtt.connectAsync(api.rig.brokerUrl, { clientId: id, username: id, password: secret, reconnectPeriod: 0 })).rejects.toThrow();
  });

  it('answers 404 DEVICE_NOT_FOUND on every device route for an unknown device', async () => {
    const id = freshId('ghost');
    const calls: [string, string, unknown?][] = [
      ['GET', `/v1/devices/${id}`],
      ['PATCH', `/v1/devices/${id}/labels`, { set: { a: 'b' } }],
      ['PATCH', `/v1/devices/${id}/overrides`, { env: { A: 'b' } }],
      ['DELETE', `/v1/devices/${id}/pins/web`],
      ['GET', `/v1/devices/${id}/desired`],
      ['GET', `/v1/devices/${id}/reported`],
      ['GET', `/v1/devices/${id}/events`],
      ['DELETE', `/v1/devices/${id}`],
    ];
    for (const [method, url, body] of calls) {
      const res = await api.call(method as 'GET', url, body);
      expect(res.status, `${method} ${url}: ${res.raw.body}`).toBe(404);
      expect(errorOf(res).code).toBe('DEVICE_NOT_FOUND');
    }
  });
});
