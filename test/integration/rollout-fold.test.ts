import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RolloutEnvelope, type RolloutDetail } from '../../controller/http/rollout-schemas.js';
import { Keys } from '../../controller/registry/keys.js';
import { foldedPriority } from '../../controller/rollout/rollout-effects.js';
import { rolloutDeploymentId } from '../../controller/rollout/rollout-view.js';
import { freshId, startApi, type ApiRig } from '../helpers/api.js';
import { runCliEnv } from '../helpers/cli-run.js';
import { fakeReport } from '../helpers/fake-reports.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * DD-044: a finished rollout's deployment stops shadowing later deploys. A
 * real controller (Redis, broker, BullMQ worker) with device reports written
 * into the status store; the later deploy goes through the real CLI.
 */
describe('finished rollouts fold into ordinary deployments', () => {
  let api: ApiRig;
  let url: string;
  let redis: Redis;
  const app = freshId('fold');

  beforeAll(async () => {
    api = await startApi({ controller: { rolloutPollSeconds: 0.5 } });
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    const address = api.app.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    redis = new Redis(api.rig.redis.url);
    for (const version of ['1', '2', '3']) {
      const res = await api.call('POST', '/v1/releases', { app, version, workloads: { main: { image: `busybox:${version}` } } });
      expect(res.status, res.raw.body).toBe(201);
    }
  });
  afterAll(async () => {
    redis?.disconnect();
    await api?.close();
  });

  async function fleet(n: number, role: string, priority = 0): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = freshId(role);
      expect((await api.call('POST', '/v1/devices', { id, labels: { role } })).status).toBe(201);
      ids.push(id);
    }
    const dep = await api.call('POST', '/v1/deployments', { app, version: '1', target: { kind: 'selector', selector: `role=${role}` }, priority });
    expect(dep.status, dep.raw.body).toBe(201);
    return ids;
  }

  async function get(id: string): Promise<RolloutDetail> {
    const res = await api.call('GET', `/v1/rollouts/${id}`);
    expect(res.status, res.raw.body).toBe(200);
    return RolloutEnvelope.parse(res.body).rollout;
  }

  /** Reports success for every notified device until the rollout succeeds. */
  async function runToSuccess(id: string): Promise<RolloutDetail> {
    return waitFor(
      async () => {
        const r = await get(id);
        for (const d of r.devices) if (d.status === 'notified' && d.version !== null) await fakeReport(api.rig.controller.status, d.deviceId, { seen: d.version, applied: d.version, phase: 'converged' });
        return r.phase === 'succeeded' ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, description: `rollout ${id} succeeded` },
    );
  }

  const priorityOf = async (deploymentId: string): Promise<number | undefined> => {
    const res = await api.call('GET', `/v1/deployments/${deploymentId}`);
    return res.status === 200 ? (res.body as { priority: number }).priority : undefined;
  };
  const desiredRelease = async (deviceId: string): Promise<string | undefined> => {
    const raw = await redis.hget(new Keys('outpost:').desired(deviceId), 'doc');
    const doc = raw ? (JSON.parse(raw) as { provenance: Record<string, { release?: string }> }) : undefined;
    return doc ? Object.values(doc.provenance)[0]?.release : undefined;
  };

  it('after a succeeded rollout, a plain `outpost deploy` to the same devices wins without --priority', async () => {
    const role = freshId('r');
    const ids = await fleet(2, role);
    const id = freshId('ok');
    expect((await api.call('POST', '/v1/rollouts', { id, app, toVersion: '2', target: { kind: 'selector', selector: `role=${role}` }, waves: { kind: 'sizes', sizes: ['100%'] } })).status).toBe(201);
    await runToSuccess(id);
    await waitFor(async () => (await priorityOf(rolloutDeploymentId(id))) === 0, { timeoutMs: 10_000, description: 'rollout deployment folded to priority 0' });
    // Folding changed nobody's release: the devices keep 2 (it is newer than the deployment of 1 at the same priority).
    for (const d of ids) expect(await desiredRelease(d)).toBe(`${app}@2`);

    const deployed = await runCliEnv(['deploy', `${app}@3`, '--to', `role=${role}`], { OUTPOST_API: url, OUTPOST_TOKEN: api.token });
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(deployed.stderr).not.toMatch(/warning/);
    for (const d of ids) await waitFor(async () => (await desiredRelease(d)) === `${app}@3`, { timeoutMs: 10_000, description: `${d} gets ${app}@3` });
  });

  it('keeps the priority of what it replaced, so the devices do not fall back to it', async () => {
    const role = freshId('p');
    const ids = await fleet(1, role, 50);
    const id = freshId('p50');
    expect((await api.call('POST', '/v1/rollouts', { id, app, toVersion: '2', target: { kind: 'devices', devices: ids }, waves: { kind: 'sizes', sizes: ['100%'] } })).status).toBe(201);
    await runToSuccess(id);
    await waitFor(async () => (await priorityOf(rolloutDeploymentId(id))) === 50, { timeoutMs: 10_000, description: 'folded to the replaced priority 50' });
    expect(await desiredRelease(ids[0] ?? '')).toBe(`${app}@2`);
  });

  it('an aborted rollout folds too (moved devices keep the release); a rolled-back one has no deployment left', async () => {
    const role = freshId('a');
    const ids = await fleet(2, role);
    const aborted = freshId('ab');
    expect((await api.call('POST', '/v1/rollouts', { id: aborted, app, toVersion: '2', target: { kind: 'devices', devices: ids }, waves: { kind: 'sizes', sizes: [1, '100%'] } })).status).toBe(201);
    await waitFor(async () => (await get(aborted)).devices.some((d) => d.status === 'notified'), { timeoutMs: 20_000, description: 'first wave notified' });
    expect((await api.call('POST', `/v1/rollouts/${aborted}/abort`)).status).toBe(200);
    await waitFor(async () => (await priorityOf(rolloutDeploymentId(aborted))) === 0, { timeoutMs: 10_000, description: 'aborted rollout folded' });

    const role2 = freshId('b');
    const ids2 = await fleet(1, role2);
    const back = freshId('rb');
    expect((await api.call('POST', '/v1/rollouts', { id: back, app, toVersion: '2', target: { kind: 'devices', devices: ids2 }, waves: { kind: 'sizes', sizes: ['100%'] } })).status).toBe(201);
    await runToSuccess(back);
    expect((await api.call('POST', `/v1/rollouts/${back}/rollback`)).status).toBe(200);
    await waitFor(async () => (await priorityOf(rolloutDeploymentId(back))) === undefined, { timeoutMs: 10_000, description: 'rolled-back deployment removed' });
    await waitFor(async () => (await desiredRelease(ids2[0] ?? '')) === `${app}@1`, { timeoutMs: 10_000, description: 'device back on 1' });
  });

  it.each([
    { own: 1_000_000, others: [0], folded: 0 },
    { own: 1_000_000, others: [], folded: 0 },
    { own: 1_000_000, others: [50, 7, 0], folded: 50 },
    { own: 1_000_000, others: [1_000_000], folded: 1_000_000 },
    { own: 50, others: [50, 0], folded: 50 },
    { own: 10, others: [20], folded: 0 },
    { own: -5, others: [0], folded: -5 },
  ])('foldedPriority($own, $others) = $folded', ({ own, others, folded }) => {
    expect(foldedPriority(own, others)).toBe(folded);
  });
});
