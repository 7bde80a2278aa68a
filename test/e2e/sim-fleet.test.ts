import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../cli/client/api-client.js';
import { buildApi } from '../../controller/http/build-api.js';
import { silentLogger } from '../../shared/logger.js';
import { freshId } from '../helpers/api.js';
import { runCli } from '../helpers/cli-run.js';
import { startControlPlane, type ControlPlaneRig } from '../helpers/control-plane.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import type { ManagedProcess } from '../helpers/process.js';
import { startSim } from '../helpers/sim-process.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * `outpost sim` against a real control plane (Redis, Outpost broker,
 * controller, HTTP API): simulated devices in worker processes, each a real
 * MQTT session running the real agent core over the simulated runtime.
 */
describe('outpost sim: a simulated fleet end to end', () => {
  let rig: ControlPlaneRig;
  let api: FastifyInstance;
  let url: string;
  let client: ApiClient;
  let dir: TempDir;
  const sims: ManagedProcess[] = [];
  dumpOnFailure(() => Object.fromEntries(sims.map((s, i) => [`sim ${i}`, s.output()])));

  beforeAll(async () => {
    rig = await startControlPlane({ controller: { rolloutPollSeconds: 0.5 } });
    api = await buildApi(rig.controller.controlPlane, { adminTokens: [rig.adminToken], logger: silentLogger() });
    await api.listen({ host: '127.0.0.1', port: 0 });
    const address = api.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    client = new ApiClient({ baseUrl: url, token: rig.adminToken });
    dir = await makeTempDir('sim');
  });

  afterAll(async () => {
    for (const s of sims) await s.stop();
    await api?.close();
    await rig?.close();
    await dir?.remove();
  });

  async function sim(args: readonly string[]): Promise<ManagedProcess> {
    const proc = await startSim({ api: { url, token: rig.adminToken }, brokerUrl: rig.brokerUrl, args });
    sims.push(proc);
    return proc;
  }

  async function phases(selector: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const d of (await client.listDevices(selector)).devices) {
      const key = d.phase === 'converged' && d.inSync ? 'converged' : d.phase;
      out[key] = (out[key] ?? 0) + 1;
    }
    return out;
  }

  it('20 simulated devices in 2 workers converge on a deployment, then on a rollout (CLI create + watch); Ctrl-C stops them', async () => {
    const run = freshId('simok');
    const proc = await sim(['--devices', '20', '--workers', '2', '--prefix', run, '--label', `run=${run}`, '--pull-latency-ms', '50', '--state-dir', `${dir.path}/${run}`]);
    await proc.waitForLine(/Started 20 simulated devices in 2 worker processes \(simulated runtime/, 60_000);
    await waitFor(async () => (await client.listDevices(`run=${run}`)).devices.filter((d) => d.online).length === 20, {
      timeoutMs: 60_000,
      intervalMs: 250,
      description: '20 simulated devices online',
    });
    const devices = (await client.listDevices(`run=${run}`)).devices;
    expect(devices.map((d) => d.labels)).toEqual(Array(20).fill({ run, sim: 'true' }));

    await client.createRelease({ app: run, version: '1', workloads: { web: { image: 'sim/web:1', stopTimeoutSeconds: 1, health: { type: 'cmd', command: ['true'], intervalSeconds: 1 } } } });
    await client.createDeployment({ app: run, version: '1', target: { kind: 'selector', selector: `run=${run}` } });
    await waitFor(async () => (await phases(`run=${run}`)).converged === 20, { timeoutMs: 90_000, intervalMs: 250, description: '20 devices converged on release 1' });
    await proc.waitForLine(/simulated fleet: 20\/20 connected · 20 converged/, 30_000);
    await proc.waitForLine(/simulator memory: .* per simulated device/, 30_000);

    await client.createRelease({ app: run, version: '2', workloads: { web: { image: 'sim/web:2', stopTimeoutSeconds: 1, health: { type: 'cmd', command: ['true'], intervalSeconds: 1 } } } });
    const id = `${run}-r2`;
    const created = await runCli(['rollout', 'create', '--app', run, '--to', '2', '--selector', `run=${run}`, '--waves', '1,50%,100%', '--device-timeout', '2m', '--id', id], { url, token: rig.adminToken });
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const watched = await runCli(['rollout', 'watch', id, '--interval', '0.5'], { url, token: rig.adminToken }, 180_000);
    expect(watched.code, watched.stdout + watched.stderr).toBe(0);
    expect(watched.stdout).toContain(`Rollout ${id} succeeded: 20 devices run ${run}@2`);
    for (const d of (await client.listDevices(`run=${run}`)).devices) {
      const detail = await client.getDevice(d.id);
      expect(detail.reported?.workloads[`${run}-web`]).toMatchObject({ state: 'running', image: 'sim/web:2' });
    }

    proc.kill('SIGINT');
    expect((await proc.waitForExit(60_000)).code).toBe(0);
    expect(proc.output()).toContain('Stopped 20 simulated devices (still enrolled');
    await waitFor(async () => (await client.listDevices(`run=${run}`)).devices.every((d) => !d.online), { timeoutMs: 30_000, description: 'all offline' });
    expect((await client.listDevices(`run=${run}`)).devices).toHaveLength(20);
  });

  it('with a failure rate some simulated devices fail to pull and the API shows them failed; --cleanup decommissions them', async () => {
    const run = freshId('simfail');
    const proc = await sim(['--devices', '20', '--workers', '2', '--prefix', run, '--label', `run=${run}`, '--pull-latency-ms', '20', '--failure-rate', '0.5', '--seed', '3', '--cleanup']);
    await proc.waitForLine(/Started 20 simulated devices/, 60_000);
    await client.createRelease({ app: run, version: '1', workloads: { web: { image: 'sim/web:1', stopTimeoutSeconds: 1 } } });
    await client.createDeployment({ app: run, version: '1', target: { kind: 'selector', selector: `run=${run}` } });
    const seen = await waitFor(
      async () => {
        const p = await phases(`run=${run}`);
        return (p.converged ?? 0) + (p.failed ?? 0) === 20 ? p : null;
      },
      { timeoutMs: 90_000, intervalMs: 250, description: 'every device converged or failed' },
    );
    expect(seen.failed).toBeGreaterThan(0);
    expect(seen.converged).toBeGreaterThan(0);
    const failed = (await client.listDevices(`run=${run}`)).devices.filter((d) => d.phase === 'failed');
    const detail = await client.getDevice(failed[0]?.id ?? '');
    expect(detail.reported?.errors.map((e) => e.code)).toContain('IMAGE_PULL_FAILED');
    expect(detail.reported?.errors.map((e) => e.message).join(' ')).toMatch(/simulated pull failure/);

    proc.kill('SIGINT');
    expect((await proc.waitForExit(120_000)).code).toBe(0);
    expect(proc.output()).toContain('Decommissioned 20 simulated devices');
    await waitFor(async () => (await client.listDevices(`run=${run}`)).devices.length === 0, { timeoutMs: 60_000, description: 'devices decommissioned' });
  });

  it('with flaky health the real health gate rolls the update back on every simulated device, and the API says why', async () => {
    const run = freshId('simflaky');
    const proc = await sim(['--devices', '4', '--workers', '1', '--prefix', run, '--label', `run=${run}`, '--pull-latency-ms', '20', '--flaky-health-rate', '1', '--flaky-health', 'starting,unhealthy', '--cleanup']);
    await proc.waitForLine(/Started 4 simulated devices in 1 worker process \(/, 60_000);
    await client.createRelease({ app: run, version: '1', workloads: { web: { image: 'sim/web:1', stopTimeoutSeconds: 1, health: { type: 'cmd', command: ['true'], intervalSeconds: 1, retries: 1 } } } });
    await client.createDeployment({ app: run, version: '1', target: { kind: 'selector', selector: `run=${run}` } });
    await waitFor(async () => (await phases(`run=${run}`))['rolled-back'] === 4, { timeoutMs: 90_000, intervalMs: 250, description: '4 devices rolled back' });
    const detail = await client.getDevice((await client.listDevices(`run=${run}`)).devices[0]?.id ?? '');
    expect(detail.reported?.errors.find((e) => e.code === 'UPDATE_UNHEALTHY')?.message).toMatch(/simulated flaky health: unhealthy/);

    proc.kill('SIGINT');
    expect((await proc.waitForExit(60_000)).code).toBe(0);
  });
});
