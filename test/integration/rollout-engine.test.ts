import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { Redis } from 'ioredis';
import { RolloutEnvelope, RolloutList, type RolloutDetail } from '../../controller/http/rollout-schemas.js';
import { Keys } from '../../controller/registry/keys.js';
import { RolloutStore } from '../../controller/rollout/rollout-store.js';
import { RolloutScheduler } from '../../controller/rollout/rollout-scheduler.js';
import { RolloutStatus } from '../../shared/schemas/rollout-status.js';
import { errorOf, freshId, startApi, type ApiRig } from '../helpers/api.js';
import { fakeReport } from '../helpers/fake-reports.js';
import { waitFor } from '../helpers/wait-for.js';
import { silentLogger } from '../../shared/logger.js';

/**
 * The rollout worker on a real controller (Redis, broker, BullMQ), with
 * device reports written straight into the status store instead of agents:
 * the store's revision check, duplicate ticks, the API's errors, and the
 * retained status on MQTT.
 */
describe('rollout engine', () => {
  let api: ApiRig;
  let redis: Redis;
  const app = freshId('app');

  beforeAll(async () => {
    api = await startApi({ controller: { rolloutPollSeconds: 0.5 } });
    redis = new Redis(api.rig.redis.url);
    for (const version of ['1', '2']) {
      const res = await api.call('POST', '/v1/releases', { app, version, workloads: { main: { image: `busybox:${version}` } } });
      expect(res.status, res.raw.body).toBe(201);
    }
  });
  afterAll(async () => {
    redis?.disconnect();
    await api?.close();
  });

  async function fleet(n: number, role: string): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = freshId(role);
      expect((await api.call('POST', '/v1/devices', { id, labels: { role } })).status).toBe(201);
      ids.push(id);
    }
    const dep = await api.call('POST', '/v1/deployments', { app, version: '1', target: { kind: 'selector', selector: `role=${role}` } });
    expect(dep.status, dep.raw.body).toBe(201);
    return ids;
  }

  async function get(id: string): Promise<RolloutDetail> {
    const res = await api.call('GET', `/v1/rollouts/${id}`);
    expect(res.status, res.raw.body).toBe(200);
    return RolloutEnvelope.parse(res.body).rollout;
  }

  const desiredVersion = async (id: string) => Number(await redis.hget(new Keys('outpost:').desired(id), 'version'));

  it('the store writes only on the expected revision', async () => {
    const ids = await fleet(1, freshId('cas'));
    const created = await api.call('POST', '/v1/rollouts', { id: freshId('cas'), app, toVersion: '2', target: { kind: 'devices', devices: ids }, waves: { kind: 'sizes', sizes: ['100%'] } });
    expect(created.status, created.raw.body).toBe(201);
    const store = new RolloutStore(redis, new Keys('outpost:'));
    const id = RolloutEnvelope.parse(created.body).rollout.id;
    await api.call('POST', `/v1/rollouts/${id}/pause`);
    const state = await store.require(id);
    const next = { ...state, revision: state.revision + 1, pausedReason: 'test' };
    expect(await store.save(next, state.revision - 1)).toBe('conflict');
    expect(await store.save(next, state.revision)).toBe('saved');
    expect(await store.save({ ...next, revision: next.revision + 1 }, state.revision)).toBe('conflict');
    expect((await store.require(id)).pausedReason).toBe('test');
    expect(await store.save({ ...next, id: 'no-such-rollout', revision: 9 }, 8)).toBe('gone');
  });

  it('a tick processed twice changes nothing more; one job per (rollout, due second)', async () => {
    const ids = await fleet(3, freshId('dup'));
    const id = freshId('dup');
    const res = await api.call('POST', '/v1/rollouts', { id, app, toVersion: '2', target: { kind: 'devices', devices: ids }, waves: { kind: 'sizes', sizes: [1, '100%'] } });
    expect(res.status, res.raw.body).toBe(201);
    const first = await waitFor(async () => {
      const r = await get(id);
      return r.devices.some((d) => d.status === 'notified') ? r : undefined;
    });
    const notified = first.devices.filter((d) => d.status === 'notified');
    expect(notified).toHaveLength(1);
    const [moved] = notified;
    expect(moved?.version).toBe(2);
    expect(await desiredVersion(moved!.deviceId)).toBe(2);

    const before = await get(id);
    // The same tick, twice, by hand (what an at-least-once redelivery does).
    const engine = api.rig.controller.rolloutEngine;
    await engine.processJob({ id: `tick-${id}-1`, data: { rolloutId: id } });
    await engine.processJob({ id: `tick-${id}-1`, data: { rolloutId: id } });
    const after = await get(id);
    expect(after.revision).toBe(before.revision);
    expect(after.devices).toEqual(before.devices);
    for (const d of ids) expect(await desiredVersion(d)).toBe(d === moved!.deviceId ? 2 : 1);

    // Scheduling the same moment twice yields one job (a prefix no worker consumes).
    const connection = new Redis(api.rig.redis.url, { maxRetriesPerRequest: null });
    const scheduler = new RolloutScheduler({ connection, redis, keys: new Keys(`${freshId('q')}:`), logger: silentLogger(), now: () => 1_800_000_000_500 });
    try {
      await scheduler.kick(id);
      await scheduler.kick(id);
      expect(await scheduler.queue.getJobCounts('wait', 'delayed')).toEqual({ wait: 1, delayed: 0 });
    } finally {
      await scheduler.close();
      connection.disconnect();
    }
  });

  it('advances wave by wave on reports, succeeds, and publishes a valid retained status on MQTT', async () => {
    const ids = await fleet(3, freshId('flow'));
    const id = freshId('flow');
    const res = await api.call('POST', '/v1/rollouts', { id, app, toVersion: '2', target: { kind: 'devices', devices: ids }, waves: { kind: 'sizes', sizes: [1, 2, '100%'] } });
    expect(res.status, res.raw.body).toBe(201);
    const status = api.rig.controller.status;
    // Every notified device reports the version it was moved to as applied and converged.
    const final = await waitFor(
      async () => {
        const r = await get(id);
        for (const d of r.devices) if (d.status === 'notified' && d.version !== null) await fakeReport(status, d.deviceId, { seen: d.version, applied: d.version, phase: 'converged' });
        return r.phase === 'succeeded' ? r : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200, description: 'rollout succeeded' },
    );
    expect(final.waves.map((w) => [w.size, w.outcome, w.counts.succeeded])).toEqual([
      [1, 'passed', 1],
      [1, 'passed', 1],
      [1, 'passed', 1],
    ]);
    const started = final.waves.map((w) => Date.parse(w.startedAt ?? ''));
    expect([...started].sort((a, b) => a - b)).toEqual(started);
    for (const d of ids) expect(await desiredVersion(d)).toBe(2);

    const client = await mqtt.connectAsync(api.rig.brokerUrl, { ...api.rig.serviceAuth, clientId: `svc:test-${id}`, protocolVersion: 4 });
    try {
      const message = await new Promise<unknown>((resolve) => {
        client.on('message', (_topic, payload) => resolve(JSON.parse(payload.toString('utf8'))));
        void client.subscribeAsync(`outpost/v1/rollouts/${id}/status`, { qos: 1 });
      });
      const parsed = RolloutStatus.parse(message);
      expect(parsed).toMatchObject({ id, app, toVersion: '2', phase: 'succeeded', totals: { succeeded: 3 } });
    } finally {
      await client.endAsync();
    }
    const list = RolloutList.parse((await api.call('GET', '/v1/rollouts')).body);
    expect(list.rollouts.find((r) => r.id === id)?.phase).toBe('succeeded');
  });

  it('a failure trips the threshold and pauses; operations the phase does not allow are 409 with why, repeated ones answer the rollout', async () => {
    const ids = await fleet(3, freshId('fail'));
    const id = freshId('fail');
    const res = await api.call('POST', '/v1/rollouts', { id, app, toVersion: '2', target: { kind: 'devices', devices: ids }, waves: { kind: 'sizes', sizes: [1, '100%'] } });
    expect(res.status, res.raw.body).toBe(201);
    const paused = await waitFor(
      async () => {
        const r = await get(id);
        for (const d of r.devices) {
          if (d.status === 'notified' && d.version !== null) await fakeReport(api.rig.controller.status, d.deviceId, { seen: d.version, applied: 1, phase: 'rolled-back', rolledBack: d.version });
        }
        return r.phase === 'paused' ? r : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200, description: 'rollout paused' },
    );
    expect(paused.waves[0]).toMatchObject({ outcome: 'failed', counts: { failed: 1 } });
    expect(paused.reason).toMatch(/wave 0 failed/);
    expect(paused.devices.filter((d) => d.wave === 1).every((d) => d.status === 'pending')).toBe(true);

    // Pausing a paused rollout (a retried request) is what was asked: 200 with the rollout as it is.
    const pauseAgain = await api.call('POST', `/v1/rollouts/${id}/pause`);
    expect(pauseAgain.status).toBe(200);
    expect((pauseAgain.body as { rollout: { phase: string } }).rollout.phase).toBe('paused');
    const advance = await api.call('POST', `/v1/rollouts/${id}/resume`);
    expect(advance.status).toBe(200);
    const resumeAgain = await api.call('POST', `/v1/rollouts/${id}/resume`);
    expect(resumeAgain.status).toBe(409);
    expect(errorOf(resumeAgain)).toMatchObject({ code: 'ROLLOUT_PHASE_CONFLICT', message: expect.stringMatching(/cannot resume .* it is /) });

    const rolledBack = await api.call('POST', `/v1/rollouts/${id}/rollback`);
    expect(rolledBack.status, rolledBack.raw.body).toBe(200);
    await waitFor(async () => (await get(id)).phase === 'rolled-back', { description: 'rolled back' });
    const moved = paused.devices.find((d) => d.wave === 0);
    // Back to release 1, as a new, higher version.
    expect(await desiredVersion(moved!.deviceId)).toBe(3);
    const again = await api.call('POST', `/v1/rollouts/${id}/rollback`);
    expect(again.status).toBe(200);
    expect((again.body as { rollout: { phase: string } }).rollout.phase).toBe('rolled-back');
    const abort = await api.call('POST', `/v1/rollouts/${id}/abort`);
    expect(abort.status).toBe(409);
    expect(errorOf(abort).message).toMatch(/rolled-back/);
  });

  it('refuses bad specs naming the fields (400), unknown releases and rollouts (404), an id taken by another spec (409); the same request again is 200', async () => {
    const bad = await api.call('POST', '/v1/rollouts', { app, toVersion: '2', target: { kind: 'selector', selector: 'role=' }, waves: { kind: 'sizes', sizes: ['0%'] }, maxFailurePct: 120 });
    expect(bad.status).toBe(400);
    const message = errorOf(bad).message;
    expect(message).toMatch(/waves\.sizes\.0/);
    expect(message).toMatch(/maxFailurePct/);
    const missing = await api.call('POST', '/v1/rollouts', { app, toVersion: '9', target: { kind: 'selector', selector: 'role=x' }, waves: { kind: 'sizes', sizes: ['100%'] } });
    expect(missing.status).toBe(404);
    expect(errorOf(missing).code).toBe('RELEASE_NOT_FOUND');
    const nobody = await api.call('POST', '/v1/rollouts', { app, toVersion: '2', target: { kind: 'selector', selector: 'role=nobody' }, waves: { kind: 'sizes', sizes: ['100%'] } });
    expect(nobody.status).toBe(400);
    expect(errorOf(nobody).message).toMatch(/matches no enrolled device/);
    expect((await api.call('GET', '/v1/rollouts/no-such')).status).toBe(404);
    expect(errorOf(await api.call('POST', '/v1/rollouts/no-such/pause')).code).toBe('ROLLOUT_NOT_FOUND');
    const ids = await fleet(1, freshId('dupid'));
    const body = { id: freshId('same'), app, toVersion: '2', target: { kind: 'devices', devices: ids }, waves: { kind: 'sizes', sizes: ['100%'] } };
    expect((await api.call('POST', '/v1/rollouts', body)).status).toBe(201);
    const repeated = await api.call('POST', '/v1/rollouts', body);
    expect(repeated.status).toBe(200);
    expect((repeated.body as { rollout: { id: string } }).rollout.id).toBe(body.id);
    const dup = await api.call('POST', '/v1/rollouts', { ...body, waves: { kind: 'sizes', sizes: ['50%', '100%'] } });
    expect(dup.status).toBe(409);
    expect(errorOf(dup).code).toBe('ROLLOUT_EXISTS');
  });

  it('pauses, saying why, when a deployment of its own name belongs to someone else', async () => {
    const ids = await fleet(1, freshId('taken'));
    const id = freshId('taken');
    const dep = await api.call('POST', '/v1/deployments', { id: `rollout-${id}`, app, version: '1', target: { kind: 'devices', devices: ids } });
    expect(dep.status, dep.raw.body).toBe(201);
    const version = await desiredVersion(ids[0]!);
    const res = await api.call('POST', '/v1/rollouts', { id, app, toVersion: '2', target: { kind: 'devices', devices: ids }, waves: { kind: 'sizes', sizes: ['100%'] } });
    expect(res.status, res.raw.body).toBe(201);
    const paused = await waitFor(async () => {
      const r = await get(id);
      return r.phase === 'paused' ? r : undefined;
    });
    expect(paused.reason).toMatch(/deployment rollout-.* exists with .*@1/);
    expect(await desiredVersion(ids[0]!)).toBe(version);
  });
});
