import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import { register as globalRegistry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkBrokerConfig } from '../../broker/config.js';
import { SERVICE_USERNAME } from '../helpers/brokers.js';
import { createBroker, type OutpostBroker } from '../../broker/create-broker.js';
import { CreatedToken } from '../../controller/http/access-schemas.js';
import { DEVICE_PHASES } from '../../shared/schemas/reported-state.js';
import { silentLogger } from '../../shared/logger.js';
import { Topics } from '../../shared/topics.js';
import { freshId } from '../helpers/api.js';
import { startListeningApi, type ListeningApi } from '../helpers/api-server.js';
import { startControlPlane, type ControlPlaneRig } from '../helpers/control-plane.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import type { ManagedProcess } from '../helpers/process.js';
import { parsePromText, sampleValue, valuesBy, type MetricFamily } from '../helpers/prom-text.js';
import { startSim } from '../helpers/sim-process.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';

interface FleetBody {
  devices: number;
  online: number;
  offline: number;
  byPhase: Record<string, number>;
  inSync: number;
  lagging: number;
  byRelease: Record<string, { desired: number; running: number }>;
  pending: number;
  deployments: number;
  releases: number;
}
interface DeviceRow {
  id: string;
  phase: string;
  online: boolean;
  desiredVersion: number | null;
  appliedVersion: number | null;
}
interface RolloutRow {
  id: string;
  phase: string;
  currentWave: number;
  totals: Record<string, number>;
  waves: { size: number }[];
}

/**
 * Issue 12, test 2: /metrics parses as Prometheus text and its numbers equal
 * the API's fleet summary after a real scenario — a real Redis, Outpost
 * broker and controller, simulated agents (`outpost sim`: real MQTT sessions
 * running the real agent core) that report, fail and stay offline, a
 * deployment and a scheduled rollout.
 */
describe('Prometheus metrics', () => {
  let rig: ControlPlaneRig;
  let api: ListeningApi;
  let dir: TempDir;
  const sims: ManagedProcess[] = [];
  dumpOnFailure(() => Object.fromEntries(sims.map((s, i) => [`sim ${i}`, s.output()])));

  beforeAll(async () => {
    rig = await startControlPlane({ brokerKind: 'outpost', controller: { rolloutPollSeconds: 0.5 } });
    api = await startListeningApi(rig, { metrics: { endpoint: rig.controller.metrics, public: false } });
    dir = await makeTempDir('metrics');
  });
  afterAll(async () => {
    for (const s of sims) await s.stop();
    await api?.close();
    await rig?.close();
    await dir?.remove();
  });

  async function json<T>(path: string): Promise<T> {
    const res = await api.get(path);
    expect(res.status, path).toBe(200);
    return (await res.json()) as T;
  }
  async function scrape(): Promise<Map<string, MetricFamily>> {
    const res = await api.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parsePromText(await res.text());
  }
  async function sim(prefix: string, args: readonly string[]): Promise<ManagedProcess> {
    const proc = await startSim({
      api: { url: api.url, token: rig.adminToken },
      brokerUrl: rig.brokerUrl,
      args: ['--workers', '1', '--prefix', prefix, '--pull-latency-ms', '20', '--state-dir', `${dir.path}/${prefix}`, ...args],
    });
    sims.push(proc);
    return proc;
  }

  it('after a scenario, every fleet gauge equals GET /v1/fleet, and the rollout gauges equal GET /v1/rollouts', async () => {
    const run = freshId('met');
    const selector = `run=${run}`;
    // Two devices that never connect: offline, phase unknown, lagging once deployed to.
    for (const i of [0, 1]) {
      const res = await fetch(`${api.url}/v1/devices`, {
        method: 'POST',
        headers: { authorization: `Bearer ${rig.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id: `${run}-off-${i}`, labels: { run } }),
      });
      expect(res.status).toBe(201);
    }
    // Three healthy simulated devices (with telemetry) and one that cannot pull any image.
    const good = await sim(`${run}-ok`, ['--devices', '3', '--label', `run=${run}`, '--telemetry-interval', '1']);
    const bad = await sim(`${run}-bad`, ['--devices', '1', '--label', `run=${run}`, '--failure-rate', '1']);
    await good.waitForLine(/Started 3 simulated devices/, 60_000);
    await bad.waitForLine(/Started 1 simulated device/, 60_000);

    const post = async (path: string, body: unknown): Promise<void> => {
      const res = await fetch(`${api.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${rig.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status, `${path}: ${await res.clone().text()}`).toBeLessThan(300);
    };
    for (const version of ['1', '2']) await post('/v1/releases', { app: run, version, workloads: { web: { image: `sim/web:${version}`, stopTimeoutSeconds: 1 } } });
    await post('/v1/deployments', { app: run, version: '1', target: { kind: 'selector', selector } });
    await waitFor(
      async () => {
        const rows = (await json<{ devices: DeviceRow[] }>(`/v1/devices?selector=${encodeURIComponent(selector)}`)).devices;
        const phases = rows.map((d) => d.phase);
        return phases.filter((p) => p === 'converged').length === 3 && phases.includes('failed') && rows.filter((d) => d.online).length === 4;
      },
      { timeoutMs: 90_000, intervalMs: 250, description: '3 devices converged, 1 failed, 4 online' },
    );
    // A rollout that starts next year: scheduled, its counts stay put while we compare.
    const rolloutId = `${run}-r2`;
    await post('/v1/rollouts', {
      id: rolloutId,
      app: run,
      toVersion: '2',
      target: { kind: 'selector', selector },
      waves: { kind: 'sizes', sizes: [1, '100%'] },
      startAt: new Date(Date.now() + 365 * 86_400_000).toISOString(),
    });
    // Telemetry from the healthy devices has arrived (a counter the ingest keeps).
    await waitFor(async () => (valuesBy(await scrape(), 'outpost_ingest_messages_total', 'outcome', { channel: 'telemetry' }).stored ?? 0) >= 3, {
      timeoutMs: 30_000,
      description: 'telemetry ingested',
    });

    // The fleet is settled when two summaries around one scrape agree.
    const { fleet, families, rows, rollouts } = await waitFor(
      async () => {
        const before = await json<FleetBody>('/v1/fleet');
        const rowsNow = (await json<{ devices: DeviceRow[] }>('/v1/devices')).devices;
        const scraped = await scrape();
        const after = await json<FleetBody>('/v1/fleet');
        const rolloutList = (await json<{ rollouts: RolloutRow[] }>('/v1/rollouts')).rollouts;
        return JSON.stringify(before) === JSON.stringify(after) ? { fleet: after, families: scraped, rows: rowsNow, rollouts: rolloutList } : null;
      },
      { timeoutMs: 30_000, description: 'a scrape between two equal fleet summaries' },
    );

    expect(fleet).toMatchObject({ devices: 6, online: 4, offline: 2, byPhase: { converged: 3, failed: 1, unknown: 2 }, lagging: 3 });
    expect(sampleValue(families, 'outpost_devices')).toBe(fleet.devices);
    expect(sampleValue(families, 'outpost_devices_online')).toBe(fleet.online);
    expect(sampleValue(families, 'outpost_devices_offline')).toBe(fleet.offline);
    expect(sampleValue(families, 'outpost_devices_in_sync')).toBe(fleet.inSync);
    expect(sampleValue(families, 'outpost_devices_lagging')).toBe(fleet.lagging);
    expect(sampleValue(families, 'outpost_devices_pending')).toBe(fleet.pending);
    expect(sampleValue(families, 'outpost_deployments')).toBe(fleet.deployments);
    expect(sampleValue(families, 'outpost_releases')).toBe(fleet.releases);
    const zeros = Object.fromEntries([...DEVICE_PHASES, 'unknown'].map((p) => [p, 0]));
    expect(valuesBy(families, 'outpost_devices_by_phase', 'phase')).toEqual({ ...zeros, ...fleet.byPhase });
    expect(valuesBy(families, 'outpost_release_devices_desired', 'release')).toEqual(Object.fromEntries(Object.entries(fleet.byRelease).map(([r, v]) => [r, v.desired])));
    expect(valuesBy(families, 'outpost_release_devices_running', 'release')).toEqual(Object.fromEntries(Object.entries(fleet.byRelease).map(([r, v]) => [r, v.running])));

    // Version lag, from the device rows the API lists.
    const behind = rows.map((d) => (d.desiredVersion === null ? 0 : Math.max(0, d.desiredVersion - (d.appliedVersion ?? 0))));
    const byBehind = valuesBy(families, 'outpost_devices_versions_behind', 'behind');
    expect(Object.values(byBehind).reduce((a, b) => a + b, 0)).toBe(fleet.lagging);
    expect(byBehind['1']).toBe(behind.filter((b) => b === 1).length);
    expect(sampleValue(families, 'outpost_devices_version_lag_max')).toBe(Math.max(...behind));

    // The scheduled rollout, exactly as GET /v1/rollouts shows it.
    const rollout = rollouts.find((r) => r.id === rolloutId);
    expect(rollout?.phase).toBe('scheduled');
    const labels = { rollout: rolloutId, app: run, version: '2' };
    expect(sampleValue(families, 'outpost_rollout_current_wave', labels)).toBe(rollout?.currentWave);
    expect(sampleValue(families, 'outpost_rollout_waves', labels)).toBe(rollout?.waves.length);
    expect(sampleValue(families, 'outpost_rollout_targeted_devices', labels)).toBe(6);
    expect(valuesBy(families, 'outpost_rollout_devices', 'status', labels)).toEqual(rollout?.totals);
    expect(sampleValue(families, 'outpost_rollouts', { phase: 'scheduled' })).toBe(rollouts.filter((r) => r.phase === 'scheduled').length);

    // Counters of this controller process, Redis latency and the process metrics.
    const ingested = (channel: string): number => valuesBy(families, 'outpost_ingest_messages_total', 'outcome', { channel }).stored ?? 0;
    expect(ingested('reported')).toBeGreaterThanOrEqual(4);
    expect(ingested('presence')).toBeGreaterThanOrEqual(4);
    expect(sampleValue(families, 'outpost_desired_published_total')).toBeGreaterThanOrEqual(6);
    expect(sampleValue(families, 'outpost_desired_publish_failures_total')).toBe(0);
    expect(sampleValue(families, 'outpost_redis_ping_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(valuesBy(families, 'outpost_metrics_collect_success', 'part')).toEqual({ fleet: 1, rollouts: 1, redis: 1 });
    expect(families.get('outpost_redis_ping_seconds')?.type).toBe('histogram');
    expect(sampleValue(families, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(families.has('nodejs_eventloop_lag_seconds')).toBe(true);
    // Per-instance registries: nothing of Outpost lands in prom-client's global one.
    expect((await globalRegistry.getMetricsAsJSON()).filter((m) => m.name.startsWith('outpost_'))).toEqual([]);
  }, 240_000);

  it('needs a token of any role (a viewer is enough), unless the API is built with metrics public', async () => {
    const anonymous = await api.get('/metrics', null);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
    const created = await fetch(`${api.url}/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${rig.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: freshId('prometheus'), role: 'viewer' }),
    });
    const viewer = CreatedToken.parse(await created.json()).secret;
    const asViewer = await api.get('/metrics', viewer);
    expect(asViewer.status).toBe(200);
    parsePromText(await asViewer.text());
    const doc = (await (await api.get('/openapi.json')).json()) as { paths: Record<string, Record<string, { 'x-outpost-access'?: string }>> };
    expect(doc.paths['/metrics']?.get?.['x-outpost-access']).toBe('viewer');

    const open = await startListeningApi(rig, { metrics: { endpoint: rig.controller.metrics, public: true } });
    try {
      const res = await open.get('/metrics', null);
      expect(res.status).toBe(200);
      expect(sampleValue(parsePromText(await res.text()), 'outpost_devices')).toBeGreaterThanOrEqual(0);
    } finally {
      await open.close();
    }
  });

  describe('broker', () => {
    let broker: OutpostBroker;
    let metricsUrl: string;
    const servicePassword = randomBytes(16).toString('hex');
    const clients: mqtt.MqttClient[] = [];

    beforeAll(async () => {
      const checked = checkBrokerConfig({ host: '127.0.0.1', port: 0, metricsPort: 0, redisUrl: rig.redis.url, servicePassword, logLevel: 'silent' });
      if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
      broker = await createBroker(checked.config, { logger: silentLogger() });
      const address = await broker.listen();
      metricsUrl = `http://127.0.0.1:${String(address.metricsPort)}/metrics`;
      brokerUrl = `mqtt://127.0.0.1:${address.port}`;
    });
    afterAll(async () => {
      for (const c of clients) await c.endAsync(true).catch(() => undefined);
      await broker?.close();
    });
    let brokerUrl = '';

    async function brokerMetrics(): Promise<Map<string, MetricFamily>> {
      const res = await fetch(metricsUrl);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      return parsePromText(await res.text());
    }

    it('counts the real connected clients, their subscriptions, messages and refused logins', async () => {
      const topics = new Topics('outpost/v1');
      const devices = [0, 1, 2].map(() => `bm-${randomBytes(4).toString('hex')}`);
      for (const id of devices) {
        const secret = await broker.credentials.issue(id);
        const client = await mqtt.connectAsync(brokerUrl, { clientId: id, username: id, password: secret, protocolVersion: 4, reconnectPeriod: 0 });
        clients.push(client);
        await client.subscribeAsync(topics.desired(id), { qos: 1 });
      }
      await expect(
        mqtt.connectAsync(brokerUrl, { clientId: devices[0] ?? '', username: devices[0] ?? '', password: 'not-the-secret-at-all', protocolVersion: 4, reconnectPeriod: 0 }),
      ).rejects.toThrow();
      const device = clients[0];
      await device?.publishAsync(topics.device(devices[0] ?? '', 'reported'), '{}', { qos: 1 });

      // The counters move on aedes events that may come just after the client got its CONNACK or PUBACK.
      const refused = (f: Map<string, MetricFamily>): number => {
        const r = valuesBy(f, 'outpost_broker_connect_refusals_total', 'reason');
        return (r['bad-credentials'] ?? 0) + (r['not-authorized'] ?? 0);
      };
      let families = await waitFor(
        async () => {
          const f = await brokerMetrics();
          return sampleValue(f, 'outpost_broker_connects_total') === 3 && sampleValue(f, 'outpost_broker_messages_received_total') >= 1 && refused(f) === 1 ? f : undefined;
        },
        { timeoutMs: 10_000, description: 'three connects, one refusal and the report counted' },
      );
      expect(sampleValue(families, 'outpost_broker_connected_clients')).toBe(3);
      expect(sampleValue(families, 'outpost_broker_connected_clients')).toBe(broker.aedes.connectedClients);
      expect(sampleValue(families, 'outpost_broker_subscriptions')).toBe(3);
      expect(sampleValue(families, 'outpost_broker_connects_total')).toBe(3);
      expect(sampleValue(families, 'outpost_broker_messages_received_total')).toBeGreaterThanOrEqual(1);
      expect(refused(families)).toBe(1);
      expect(sampleValue(families, 'process_resident_memory_bytes')).toBeGreaterThan(0);

      await clients.pop()?.endAsync();
      await waitFor(async () => sampleValue(await brokerMetrics(), 'outpost_broker_connected_clients') === 2, { timeoutMs: 10_000, description: 'two clients left' });
      families = await brokerMetrics();
      expect(sampleValue(families, 'outpost_broker_connected_clients')).toBe(broker.aedes.connectedClients);
      expect(sampleValue(families, 'outpost_broker_disconnects_total')).toBeGreaterThanOrEqual(1);
      expect((await fetch(metricsUrl.replace('/metrics', '/other'))).status).toBe(404);
    });

    it('counts what is queued for a persistent session while its device is away', async () => {
      const topics = new Topics('outpost/v1');
      const id = `bq-${randomBytes(4).toString('hex')}`;
      const secret = await broker.credentials.issue(id);
      const device = await mqtt.connectAsync(brokerUrl, { clientId: id, username: id, password: secret, protocolVersion: 4, reconnectPeriod: 0, clean: false });
      await device.subscribeAsync(topics.commands(id), { qos: 1 });
      await device.endAsync();
      const before = sampleValue(await brokerMetrics(), 'outpost_broker_messages_queued_total') ?? 0;
      const service = await mqtt.connectAsync(brokerUrl, { clientId: `svc:metrics-${id}`, username: SERVICE_USERNAME, password: servicePassword, protocolVersion: 4, reconnectPeriod: 0 });
      clients.push(service);
      for (const n of [1, 2]) await service.publishAsync(topics.commands(id), JSON.stringify({ n }), { qos: 1 });
      // Queued before the PUBACK (DD-058): counted once the publisher holds it, and counted once (not again by aedes).
      expect(sampleValue(await brokerMetrics(), 'outpost_broker_messages_queued_total')).toBe(before + 2);
      expect(sampleValue(await brokerMetrics(), 'outpost_broker_queue_dropped_total')).toBe(0);
    });
  });
});
