import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keys } from '../../controller/registry/keys.js';
import { Presence } from '../../shared/schemas/presence.js';
import { startControlPlane, type ControlPlaneRig } from '../helpers/control-plane.js';
import { waitFor } from '../helpers/docker.js';
import { connectTestController, type TestController } from '../helpers/test-controller.js';

/** What devices say is validated, folded in newest-wins, and garbage is counted, never fatal. */
describe('controller ingest', () => {
  let rig: ControlPlaneRig;
  let pub: TestController;
  const id = 'ingest-dev';
  const t = (channel: string) => `outpost/v1/devices/${id}/${channel}`;
  const presence = (status: string, epoch: number) => JSON.stringify({ protocol: 1, deviceId: id, status, epoch, at: new Date().toISOString() });
  const reported = (seen: number, applied: number, at: string) =>
    JSON.stringify({
      protocol: 1,
      deviceId: id,
      reportedAt: at,
      agent: { version: 't', bootId: 'b', startedAt: at },
      desired: { seenVersion: seen, appliedVersion: applied, applyingVersion: null },
      phase: 'converged',
      workloads: {},
      errors: [],
      rejected: null,
    });

  beforeAll(async () => {
    rig = await startControlPlane();
    pub = await connectTestController(rig.brokerUrl, rig.serviceAuth);
    await rig.controller.controlPlane.addDevice({ id });
  });
  afterAll(async () => {
    await pub?.close();
    await rig?.close();
  });

  const send = (channel: string, payload: string, retain = false) => pub.client.publishAsync(t(channel), payload, { qos: 1, retain });
  const status = () => rig.controller.status.get(id);
  /** Returns a wait that resolves once one more message of the channel was dropped as stale (or a duplicate) than now. */
  const staleDropped = async (channel: string): Promise<() => Promise<void>> => {
    const count = async (): Promise<number> => (await rig.controller.status.metrics())[`ingest.${channel}.stale`] ?? 0;
    const before = await count();
    return async () => {
      await waitFor(async () => (await count()) > before, { timeoutMs: 5000, description: `a stale ${channel} message dropped` });
    };
  };

  it('keeps the newest presence by epoch and ignores a stale will', async () => {
    await send('presence', presence('online', 10));
    await waitFor(async () => (await status()).online, { timeoutMs: 5000 });
    const dropped = await staleDropped('presence');
    await send('presence', presence('offline', 9)); // the will of an older, taken-over connection
    await send('presence', presence('online', 10));
    await dropped(); // the older epoch's will
    expect((await status()).online).toBe(true);
    await send('presence', presence('offline', 10)); // this connection's own will
    await waitFor(async () => !(await status()).online, { timeoutMs: 5000 });
    await send('presence', presence('online', 11));
    await waitFor(async () => (await status()).online, { timeoutMs: 5000 });
  });

  it('remembers when a connection was first seen online (DD-062): a repeated online presence keeps it, a new connection moves it', async () => {
    const dev = 'ingest-since';
    const store = rig.controller.status;
    const p = (status: 'online' | 'offline', epoch: number) => Presence.parse({ protocol: 1, deviceId: dev, status, epoch, at: new Date().toISOString() });
    const since = async (): Promise<string | null> => rig.controller.redis.hget(new Keys('outpost:').status(dev), 'onlineSinceMs');
    expect(await store.storePresence(p('online', 100), 1_000)).toBe(true);
    expect(await since()).toBe('1000');
    // DD-061: the agent repeats its online presence on the same connection.
    expect(await store.storePresence(p('online', 100), 2_000)).toBe(true);
    expect(await since()).toBe('1000');
    expect(await store.storePresence(p('offline', 100), 3_000)).toBe(true);
    expect(await store.storePresence(p('online', 101), 4_000)).toBe(true);
    expect(await since()).toBe('4000');
  });

  it('keeps the newest report and lifts the version counter to what the device has seen', async () => {
    await send('reported', reported(7, 7, '2026-11-23T10:00:00Z'));
    await waitFor(async () => (await status()).reported?.desired.appliedVersion === 7, { timeoutMs: 5000 });
    const dropped = await staleDropped('reported');
    await send('reported', reported(5, 5, '2026-11-23T11:00:00Z')); // older version, later clock: stale
    await dropped();
    expect((await status()).reported?.desired.appliedVersion).toBe(7);
    expect(Number(await rig.controller.redis.get('outpost:version:ingest-dev'))).toBe(7);
    // So the next document published for the device is above what it has seen.
    await rig.controller.controlPlane.createRelease({ app: 'x', version: '1', workloads: { w: { image: 'busybox:1' } } });
    const { result } = await rig.controller.controlPlane.createDeployment({ app: 'x', version: '1', target: { kind: 'devices', devices: [id] } });
    expect(result.published).toEqual([{ deviceId: id, version: 8 }]);
  });

  it('drops malformed and mismatched messages with a counter, and keeps running', async () => {
    const before = await rig.controller.status.metrics();
    await send('reported', '{"not json');
    await send('presence', JSON.stringify({ protocol: 1, deviceId: id, status: 'sleeping', epoch: 1, at: 'x' }));
    await send('events', JSON.stringify({ protocol: 1, deviceId: 'someone-else', id: 'e1', at: new Date().toISOString(), type: 'agent.started', level: 'info', message: 'hi' }));
    await send('events', 'x'.repeat(70 * 1024));
    await waitFor(
      async () => {
        const m = await rig.controller.status.metrics();
        const d = (k: string) => (m[k] ?? 0) - (before[k] ?? 0);
        return d('ingest.reported.malformed') === 1 && d('ingest.presence.malformed') === 1 && d('ingest.events.malformed') === 2;
      },
      { timeoutMs: 5000, description: 'malformed counters' },
    );
    // Still alive and ingesting.
    await send('presence', presence('online', 12));
    await waitFor(async () => (await status()).presence?.epoch === 12, { timeoutMs: 5000 });
  });

  it('keeps the newest telemetry sample per device and counts malformed ones', async () => {
    const sample = (at: string, usagePct: number) =>
      JSON.stringify({
        protocol: 1,
        deviceId: id,
        at,
        uptimeSeconds: 100,
        agentUptimeSeconds: 50,
        cpu: { cores: 2, loadAverage1m: 0.1, usagePct },
        memory: { totalBytes: 1000, availableBytes: 500 },
        disk: { path: '/state', totalBytes: 2000, freeBytes: 1000 },
        containers: [{ workload: 'x-w', state: 'running', restartCount: 0 }],
        mqtt: { bytesIn: 10, bytesOut: 20 },
      });
    const telemetry = () => rig.controller.controlPlane.telemetryOf(id);
    expect(await telemetry()).toBeNull();
    await send('telemetry', sample('2026-11-23T10:00:10Z', 20));
    await waitFor(async () => (await telemetry())?.cpu.usagePct === 20, { timeoutMs: 5000 });
    await send('telemetry', sample('2026-11-23T10:00:00Z', 99)); // older sample overtaken on the way
    const before = await rig.controller.status.metrics();
    await send('telemetry', JSON.stringify({ protocol: 1, deviceId: id, at: '2026-11-23T10:00:20Z', cpu: 'busy' }));
    await waitFor(async () => ((await rig.controller.status.metrics())['ingest.telemetry.malformed'] ?? 0) - (before['ingest.telemetry.malformed'] ?? 0) === 1, {
      timeoutMs: 5000,
      description: 'malformed telemetry counted',
    });
    expect((await telemetry())?.cpu.usagePct).toBe(20);
    expect((await rig.controller.status.metrics())['ingest.telemetry.stale']).toBeGreaterThanOrEqual(1);
  });

  it('telemetry deltas (DD-038): merged onto the last full sample; the API shows the full merged sample', async () => {
    const deltaDevice = 'ingest-delta';
    await rig.controller.controlPlane.addDevice({ id: deltaDevice });
    const topic = `outpost/v1/devices/${deltaDevice}/telemetry`;
    const full = {
      protocol: 1,
      deviceId: deltaDevice,
      at: '2026-11-23T10:00:00.000Z',
      uptimeSeconds: 100,
      agentUptimeSeconds: 50,
      cpu: { cores: 2, loadAverage1m: 0.1, usagePct: 20 },
      memory: { totalBytes: 1000, availableBytes: 500 },
      disk: { path: '/state', totalBytes: 2000, freeBytes: 1000 },
      containers: [{ workload: 'x-w', state: 'running', restartCount: 0 }],
      mqtt: { bytesIn: 10, bytesOut: 20 },
    };
    const before = await rig.controller.status.metrics();
    const unknownBase = async () => ((await rig.controller.status.metrics())['ingest.telemetry.unknown-base'] ?? 0) - (before['ingest.telemetry.unknown-base'] ?? 0);
    await pub.client.publishAsync(topic, JSON.stringify({ protocol: 1, deviceId: deltaDevice, at: '2026-11-23T09:59:00.000Z', base: '2026-11-23T09:00:00.000Z' }), { qos: 1 });
    await waitFor(async () => (await unknownBase()) === 1, { timeoutMs: 5000, description: 'a delta without its full sample counted' });
    await pub.client.publishAsync(topic, JSON.stringify(full), { qos: 1 });
    await pub.client.publishAsync(topic, JSON.stringify({ protocol: 1, deviceId: deltaDevice, at: '2026-11-23T10:05:00.000Z', base: full.at, cpu: { usagePct: 35 }, mqtt: { bytesOut: 90 } }), { qos: 1 });
    const merged = await waitFor(
      async () => {
        const t = await rig.controller.controlPlane.telemetryOf(deltaDevice);
        return t?.at === '2026-11-23T10:05:00.000Z' ? t : undefined;
      },
      { timeoutMs: 5000, description: 'the merged sample' },
    );
    expect(merged).toEqual({ ...full, at: '2026-11-23T10:05:00.000Z', uptimeSeconds: 400, agentUptimeSeconds: 350, cpu: { ...full.cpu, usagePct: 35 }, mqtt: { bytesIn: 10, bytesOut: 90 } });
  });

  it('de-duplicates events by id (QoS 1 is at-least-once)', async () => {
    const event = JSON.stringify({ protocol: 1, deviceId: id, id: 'evt-1', at: new Date().toISOString(), type: 'agent.started', level: 'info', message: 'hello' });
    const dropped = await staleDropped('events');
    await send('events', event);
    await send('events', event);
    await dropped();
    const events = await rig.controller.controlPlane.eventsOf(id);
    expect(events.filter((e) => e.id === 'evt-1')).toHaveLength(1);
  });
});
