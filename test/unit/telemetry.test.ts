import { describe, expect, it } from 'vitest';
import { collectTelemetry, cpuSample, cpuUsagePct, type CpuTimes, type TelemetrySources } from '../../agent/telemetry/collect.js';
import { TelemetryLoop } from '../../agent/telemetry/telemetry-loop.js';
import type { ObservedContainer } from '../../agent/runtime/runtime.js';
import { silentLogger } from '../../shared/logger.js';
import { Telemetry, TelemetryDelta, TelemetryMessage } from '../../shared/schemas/telemetry.js';
import { applyTelemetryDelta, isTelemetryDelta } from '../../shared/telemetry-delta.js';
import { ManualClock } from '../helpers/manual-clock.js';

const NOW = Date.parse('2026-11-23T12:00:00.000Z');
const GiB = 1024 ** 3;

const times = (busy: number, idle: number): { times: CpuTimes } => ({ times: { user: busy, nice: 0, sys: 0, idle, irq: 0 } });

function container(workload: string, over: Partial<ObservedContainer> = {}): ObservedContainer {
  return {
    id: `id-${workload}`,
    name: workload,
    workload,
    specHash: 'h',
    image: 'busybox:1',
    imageId: 'sha256:1',
    state: 'running',
    exitCode: null,
    restartCount: 0,
    startedAt: null,
    createdAt: '2026-11-23T10:00:00.000Z',
    ...over,
  };
}

function sources(over: Partial<TelemetrySources> = {}): TelemetrySources {
  return {
    deviceId: 'kiosk-a',
    nowMs: NOW,
    agentStartedAtMs: NOW - 125_500,
    os: { uptimeSeconds: 86_400.7, loadavg: [0.42, 0.3, 0.2], cpus: [times(1000, 9000), times(3000, 7000)], totalmemBytes: 4 * GiB, freememBytes: 1.5 * GiB },
    disk: { path: '/var/lib/outpost', stats: { bsize: 4096, blocks: 1_000_000, bavail: 250_000 } },
    containers: [container('kiosk-web', { restartCount: 3 }), container('kiosk-db', { state: 'exited', exitCode: 1 })],
    mqtt: { bytesIn: 12_345, bytesOut: 6789 },
    ...over,
  };
}

describe('collectTelemetry', () => {
  it('builds a valid Telemetry document from its sources', () => {
    const { telemetry } = collectTelemetry(sources(), null);
    expect(Telemetry.parse(telemetry)).toEqual(telemetry);
    expect(telemetry).toEqual({
      protocol: 1,
      deviceId: 'kiosk-a',
      at: '2026-11-23T12:00:00.000Z',
      uptimeSeconds: 86_400,
      agentUptimeSeconds: 125,
      cpu: { cores: 2, loadAverage1m: 0.42, usagePct: null },
      memory: { totalBytes: 4 * GiB, availableBytes: 1.5 * GiB },
      disk: { path: '/var/lib/outpost', totalBytes: 4096 * 1_000_000, freeBytes: 4096 * 250_000 },
      containers: [
        { workload: 'kiosk-db', state: 'exited', restartCount: 0 },
        { workload: 'kiosk-web', state: 'running', restartCount: 3 },
      ],
      mqtt: { bytesIn: 12_345, bytesOut: 6789 },
    });
  });

  it('CPU usage is the busy share between two samples over all cores', () => {
    const first = collectTelemetry(sources(), null);
    // +1000 ms busy and +3000 ms idle on core 0; +2000 busy, +2000 idle on core 1: 3000 of 8000 busy.
    const second = collectTelemetry(sources({ os: { ...sources().os, cpus: [times(2000, 12000), times(5000, 9000)] } }), first.cpu);
    expect(second.telemetry.cpu.usagePct).toBe(37.5);
  });

  it.each([
    { name: 'no previous sample', prev: null, cur: { busyMs: 10, totalMs: 100 }, pct: null },
    { name: 'no time passed', prev: { busyMs: 10, totalMs: 100 }, cur: { busyMs: 10, totalMs: 100 }, pct: null },
    { name: 'counters went backwards', prev: { busyMs: 50, totalMs: 100 }, cur: { busyMs: 40, totalMs: 200 }, pct: null },
    { name: 'fully busy', prev: { busyMs: 0, totalMs: 0 }, cur: { busyMs: 400, totalMs: 400 }, pct: 100 },
    { name: 'idle', prev: { busyMs: 0, totalMs: 0 }, cur: { busyMs: 0, totalMs: 400 }, pct: 0 },
    { name: 'one decimal', prev: { busyMs: 0, totalMs: 0 }, cur: { busyMs: 1, totalMs: 3 }, pct: 33.3 },
  ])('cpuUsagePct: $name → $pct', ({ prev, cur, pct }) => {
    expect(cpuUsagePct(prev, cur)).toBe(pct);
  });

  it('cpuSample sums every core and counts everything but idle as busy', () => {
    expect(cpuSample([{ times: { user: 1, nice: 2, sys: 3, idle: 10, irq: 4 } }, times(5, 5)])).toEqual({ busyMs: 15, totalMs: 30 });
  });

  it('one row per workload: the running container wins over an old stopped one', () => {
    const { telemetry } = collectTelemetry(
      sources({
        containers: [
          container('kiosk-web', { id: 'old', state: 'exited', createdAt: '2026-11-23T11:00:00.000Z', restartCount: 9 }),
          container('kiosk-web', { id: 'new', state: 'running', createdAt: '2026-11-23T10:00:00.000Z', restartCount: 1 }),
          container('', { id: 'unlabelled' }),
        ],
      }),
      null,
    );
    expect(telemetry.containers).toEqual([{ workload: 'kiosk-web', state: 'running', restartCount: 1 }]);
  });

  it('missing sources still give a valid document', () => {
    const { telemetry } = collectTelemetry(
      sources({ disk: { path: '/state', stats: null }, containers: null, os: { uptimeSeconds: NaN, loadavg: [], cpus: [], totalmemBytes: 0, freememBytes: -1 } }),
      null,
    );
    expect(Telemetry.safeParse(telemetry).success).toBe(true);
    expect(telemetry).toMatchObject({ uptimeSeconds: 0, cpu: { cores: 1, loadAverage1m: 0, usagePct: null }, disk: { totalBytes: 0, freeBytes: 0 }, containers: [] });
  });

  it.each([
    { loadavg: [0.3955078125], load: 0.4 },
    { loadavg: [1.23456], load: 1.23 },
    { loadavg: [2.005], load: 2.01 },
    { loadavg: [-1], load: 0 },
    { loadavg: [NaN], load: 0 },
  ])('rounds the load average to 2 decimals: $loadavg → $load', ({ loadavg, load }) => {
    const { telemetry } = collectTelemetry(sources({ os: { ...sources().os, loadavg } }), null);
    expect(telemetry.cpu.loadAverage1m).toBe(load);
  });

  it('caps the container list at 64', () => {
    const many = Array.from({ length: 80 }, (_, i) => container(`w-${String(i).padStart(2, '0')}`));
    expect(collectTelemetry(sources({ containers: many }), null).telemetry.containers).toHaveLength(64);
  });
});

describe('TelemetryLoop', () => {
  function loop(intervalSeconds: number, opts: { failRead?: boolean; deltas?: boolean; fullEvery?: number; onRead?: () => void } = {}) {
    const clock = new ManualClock(NOW);
    const sent: { topic: string; payload: string; opts: unknown }[] = [];
    const publisher = {
      isConnected: true,
      async publish(topic: string, payload: string, o: unknown) {
        sent.push({ topic, payload, opts: o });
      },
    };
    let cpuTotal = 0;
    const l = new TelemetryLoop({
      intervalSeconds,
      topic: 'outpost/v1/devices/kiosk-a/telemetry',
      clock,
      publisher,
      read: async () => {
        if (opts.failRead) throw new Error('docker gone');
        opts.onRead?.();
        cpuTotal += 1000;
        const os = sources().os;
        // Memory and MQTT bytes change from sample to sample, as on a device.
        return sources({
          nowMs: clock.now(),
          agentStartedAtMs: NOW,
          os: { ...os, uptimeSeconds: os.uptimeSeconds + (clock.now() - NOW) / 1000, cpus: [times(cpuTotal / 4, (cpuTotal * 3) / 4)], freememBytes: GiB + cpuTotal },
          mqtt: { bytesIn: 100 + cpuTotal, bytesOut: 200 + cpuTotal },
        });
      },
      cpus: () => [times(0, 0)],
      logger: silentLogger(),
      deltas: opts.deltas ?? true,
      ...(opts.fullEvery !== undefined ? { fullEvery: opts.fullEvery } : {}),
    });
    return { l, clock, sent, publisher };
  }

  it('publishes QoS 0, not retained, first after one interval, then every interval', async () => {
    const { l, clock, sent } = loop(30);
    l.start();
    await clock.advance(29_000);
    expect(sent).toHaveLength(0);
    await clock.advance(1000);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ topic: 'outpost/v1/devices/kiosk-a/telemetry', opts: { retain: false, qos: 0 } });
    const first = Telemetry.parse(JSON.parse(sent[0]?.payload ?? '{}'));
    expect(first.cpu.usagePct).toBe(25); // against the baseline taken at start
    await clock.advance(60_000);
    expect(sent).toHaveLength(3);
    l.close();
    await clock.advance(60_000);
    expect(sent).toHaveLength(3);
    expect(clock.pending).toBe(0);
  });

  it('0 turns it off', async () => {
    const { l, clock, sent } = loop(0);
    l.start();
    await clock.advance(3_600_000);
    expect(sent).toHaveLength(0);
    expect(clock.pending).toBe(0);
  });

  it('sends nothing while disconnected and resumes once connected', async () => {
    const { l, clock, sent, publisher } = loop(10);
    l.start();
    publisher.isConnected = false;
    await clock.advance(30_000);
    expect(sent).toHaveLength(0);
    publisher.isConnected = true;
    await clock.advance(10_000);
    expect(sent).toHaveLength(1);
    l.close();
  });

  it('a failing source is logged, never thrown, and the loop keeps going', async () => {
    const { l, clock, sent } = loop(10, { failRead: true });
    l.start();
    await clock.advance(30_000);
    expect(sent).toHaveLength(0);
    expect(clock.pending).toBe(1);
    await expect(l.tick()).resolves.toBe(false);
    l.close();
  });

  describe('deltas (DD-038)', () => {
    const messages = (sent: { payload: string }[]): TelemetryMessage[] => sent.map((m) => TelemetryMessage.parse(JSON.parse(m.payload)));
    const kinds = (sent: { payload: string }[]): string => messages(sent).map((m) => (isTelemetryDelta(m) ? 'd' : 'F')).join('');

    it('full first, then deltas against that full sample, and a full one every fullEvery samples', async () => {
      const { l, clock, sent } = loop(10, { fullEvery: 4 });
      l.start();
      await clock.advance(100_000);
      expect(kinds(sent)).toBe('FdddFdddFd');
      const all = messages(sent);
      // Every delta names the last FULL sample, never the previous delta, and merges back into a valid full sample.
      let base: Telemetry | null = null;
      for (const m of all) {
        if (!isTelemetryDelta(m)) {
          base = m;
          continue;
        }
        expect(m.base).toBe(base?.at);
        const merged = base && applyTelemetryDelta(base, m);
        expect(Telemetry.safeParse(merged).success).toBe(true);
        expect(merged).toMatchObject({ at: m.at, memory: { availableBytes: expect.any(Number) } });
      }
      // A steady device: the uptimes are predicted, not sent; what changed is (the fake CPU stays at 25%: no cpu).
      const delta = all[1] as TelemetryDelta;
      expect(Object.keys(delta).sort()).toEqual(['at', 'base', 'deviceId', 'memory', 'mqtt', 'protocol']);
      expect(sent[1]?.payload.length).toBeLessThan((sent[0]?.payload.length ?? 0) / 2);
      l.close();
    });

    it('the default is a full sample every 24', async () => {
      const { l, clock, sent } = loop(10);
      l.start();
      await clock.advance(250_000);
      expect(kinds(sent)).toBe(`F${'d'.repeat(23)}F`);
      l.close();
    });

    it('the first sample after a reconnect is full, and later deltas are against it', async () => {
      const { l, clock, sent } = loop(10);
      l.start();
      await clock.advance(30_000);
      l.connected();
      await clock.advance(30_000);
      expect(kinds(sent)).toBe('FddFdd');
      const all = messages(sent);
      expect((all[4] as TelemetryDelta).base).toBe(all[3]?.at);
      l.close();
    });

    it('a reconnect while a sample is being taken: that sample and the next are full', async () => {
      let reconnectOnRead = false;
      const { l, clock, sent } = loop(10, { onRead: () => reconnectOnRead && l.connected() });
      l.start();
      await clock.advance(20_000);
      reconnectOnRead = true;
      await clock.advance(10_000);
      reconnectOnRead = false;
      await clock.advance(20_000);
      expect(kinds(sent)).toBe('FdFFd');
      l.close();
    });

    it('a full sample that was not sent is not a base', async () => {
      const { l, clock, sent, publisher } = loop(10);
      let fail = true;
      const publish = publisher.publish.bind(publisher);
      publisher.publish = async (topic: string, payload: string, o: unknown) => {
        if (fail) throw new Error('socket closed');
        await publish(topic, payload, o);
      };
      l.start();
      await clock.advance(10_000);
      fail = false;
      await clock.advance(20_000);
      expect(kinds(sent)).toBe('Fd');
      l.close();
    });

    it('off: every sample is full', async () => {
      const { l, clock, sent } = loop(10, { deltas: false });
      l.start();
      await clock.advance(50_000);
      l.connected();
      await clock.advance(20_000);
      expect(kinds(sent)).toBe('FFFFFFF');
      for (const m of messages(sent)) expect(Telemetry.safeParse(m).success).toBe(true);
      l.close();
    });
  });
});
