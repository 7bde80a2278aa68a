import { describe, expect, it } from 'vitest';
import { telemetryDelta } from '../../agent/telemetry/delta.js';
import { Telemetry, TelemetryDelta, TelemetryMessage } from '../../shared/schemas/telemetry.js';
import { applyTelemetryDelta, isTelemetryDelta, predictedUptime } from '../../shared/telemetry-delta.js';

const GiB = 1024 ** 3;

/** The full sample deltas are relative to (DD-038). */
const base: Telemetry = {
  protocol: 1,
  deviceId: 'pump-17',
  at: '2026-11-23T20:00:00.000Z',
  uptimeSeconds: 1_209_600,
  agentUptimeSeconds: 86_400,
  cpu: { cores: 4, loadAverage1m: 0.31, usagePct: 7.5 },
  memory: { totalBytes: 4 * GiB, availableBytes: 2.5 * GiB },
  disk: { path: '/var/lib/outpost', totalBytes: 31_457_280_000, freeBytes: 12_582_912_000 },
  containers: [
    { workload: 'collector', state: 'running', restartCount: 1 },
    { workload: 'uplink', state: 'running', restartCount: 0 },
  ],
  mqtt: { bytesIn: 48_213, bytesOut: 91_377 },
};

/** `base` an hour later, with the uptimes moved on by exactly that hour. */
const later = (over: Partial<Telemetry> = {}): Telemetry => ({
  ...base,
  at: '2026-11-23T21:00:00.000Z',
  uptimeSeconds: base.uptimeSeconds + 3600,
  agentUptimeSeconds: base.agentUptimeSeconds + 3600,
  ...over,
});

describe('telemetryDelta (agent)', () => {
  it.each<{ name: string; current: Telemetry; delta: Omit<TelemetryDelta, 'protocol' | 'deviceId' | 'at' | 'base'> }>([
    { name: 'nothing changed: protocol, device, at and base only', current: later(), delta: {} },
    { name: 'uptimes one second off the prediction (floored at both ends): left out', current: later({ uptimeSeconds: base.uptimeSeconds + 3601, agentUptimeSeconds: base.agentUptimeSeconds + 3599 }), delta: {} },
    { name: 'an uptime two seconds off: sent', current: later({ uptimeSeconds: base.uptimeSeconds + 3602 }), delta: { uptimeSeconds: base.uptimeSeconds + 3602 } },
    { name: 'a host that rebooted: its uptime is sent', current: later({ uptimeSeconds: 120 }), delta: { uptimeSeconds: 120 } },
    { name: 'changed members only', current: later({ cpu: { ...base.cpu, usagePct: 12.5 }, memory: { ...base.memory, availableBytes: 2 * GiB } }), delta: { cpu: { usagePct: 12.5 }, memory: { availableBytes: 2 * GiB } } },
    { name: 'usage that became unknown is sent as null', current: later({ cpu: { ...base.cpu, usagePct: null } }), delta: { cpu: { usagePct: null } } },
    { name: 'disk and mqtt members', current: later({ disk: { ...base.disk, freeBytes: 1 }, mqtt: { bytesIn: 48_213, bytesOut: 91_500 } }), delta: { disk: { freeBytes: 1 }, mqtt: { bytesOut: 91_500 } } },
    {
      name: 'containers: the whole list when one row changed',
      current: later({ containers: [base.containers[0] ?? { workload: 'x', state: 'running', restartCount: 0 }, { workload: 'uplink', state: 'restarting', restartCount: 3 }] }),
      delta: { containers: [{ workload: 'collector', state: 'running', restartCount: 1 }, { workload: 'uplink', state: 'restarting', restartCount: 3 }] },
    },
    { name: 'containers: an empty list is a change', current: later({ containers: [] }), delta: { containers: [] } },
  ])('$name', ({ current, delta }) => {
    const d = telemetryDelta(base, current);
    expect(d).toEqual({ protocol: 1, deviceId: 'pump-17', at: current.at, base: base.at, ...delta });
    expect(TelemetryDelta.parse(d)).toEqual(d);
    expect(applyTelemetryDelta(base, d)).toEqual(current.uptimeSeconds === base.uptimeSeconds + 3601 ? later() : current);
  });

  it('a steady device sends a small delta', () => {
    const d = telemetryDelta(base, later({ cpu: { ...base.cpu, usagePct: 6.1, loadAverage1m: 0.27 }, memory: { ...base.memory, availableBytes: 2.4 * GiB }, mqtt: { bytesIn: 48_900, bytesOut: 92_100 } }));
    expect(JSON.stringify(d).length).toBeLessThan(JSON.stringify(base).length / 2);
  });
});

describe('applyTelemetryDelta (shared)', () => {
  const delta = (over: Partial<TelemetryDelta> = {}): TelemetryDelta => ({ protocol: 1, deviceId: 'pump-17', at: '2026-11-23T21:00:00.000Z', base: base.at, ...over });

  it('what a delta leaves out is the base, the uptimes moved on by the whole seconds elapsed', () => {
    expect(applyTelemetryDelta(base, delta({ at: '2026-11-23T20:00:09.999Z' }))).toEqual({
      ...base,
      at: '2026-11-23T20:00:09.999Z',
      uptimeSeconds: base.uptimeSeconds + 9,
      agentUptimeSeconds: base.agentUptimeSeconds + 9,
    });
  });

  it('members it carries replace the base’s; containers as a whole', () => {
    const merged = applyTelemetryDelta(base, delta({ uptimeSeconds: 5, cpu: { cores: 8 }, containers: [{ workload: 'collector', state: 'exited', restartCount: 2 }] }));
    expect(merged).toMatchObject({ uptimeSeconds: 5, agentUptimeSeconds: base.agentUptimeSeconds + 3600, cpu: { cores: 8, loadAverage1m: 0.31, usagePct: 7.5 } });
    expect(merged?.containers).toEqual([{ workload: 'collector', state: 'exited', restartCount: 2 }]);
    expect(Telemetry.parse(merged)).toEqual(merged);
  });

  it('is relative to the named full sample only, and to the same device', () => {
    expect(applyTelemetryDelta(base, delta({ base: '2026-11-23T19:00:00.000Z' }))).toBeNull();
    expect(applyTelemetryDelta(base, delta({ deviceId: 'pump-18' }))).toBeNull();
    // The same instant written with an offset is the same base.
    expect(applyTelemetryDelta(base, delta({ base: '2026-11-23T21:00:00+01:00' }))).not.toBeNull();
  });

  it('a delta timed before its base (a clock set back) never predicts a negative uptime', () => {
    expect(predictedUptime(3, base.at, '2026-11-23T19:59:50.000Z')).toBe(0);
    expect(Telemetry.safeParse(applyTelemetryDelta({ ...base, uptimeSeconds: 3 }, delta({ at: '2026-11-23T19:59:50.000Z' }))).success).toBe(true);
  });

  it('leaves its inputs alone', () => {
    const frozenBase = structuredClone(base);
    const d = delta({ cpu: { usagePct: 1 }, containers: [] });
    const frozenDelta = structuredClone(d);
    applyTelemetryDelta(base, d);
    expect(base).toEqual(frozenBase);
    expect(d).toEqual(frozenDelta);
  });
});

describe('TelemetryMessage', () => {
  it('is a full sample or a delta, told apart by `base`', () => {
    const full = TelemetryMessage.parse(base);
    const d = TelemetryMessage.parse({ protocol: 1, deviceId: 'pump-17', at: '2026-11-23T21:00:00.000Z', base: base.at });
    expect(isTelemetryDelta(full)).toBe(false);
    expect(isTelemetryDelta(d)).toBe(true);
  });

  it('a full sample with a base is a delta that carries every member', () => {
    const m = TelemetryMessage.parse({ ...base, at: '2026-11-23T21:00:00.000Z', base: base.at });
    expect(isTelemetryDelta(m) && applyTelemetryDelta(base, m)).toEqual({ ...base, at: '2026-11-23T21:00:00.000Z' });
  });

  it('refuses a delta with unknown members, and partial members in a full sample', () => {
    expect(TelemetryMessage.safeParse({ protocol: 1, deviceId: 'pump-17', at: base.at, base: base.at, cpu: { cores: 2, temperature: 40 } }).success).toBe(false);
    expect(TelemetryMessage.safeParse({ ...base, cpu: { cores: 2 } }).success).toBe(false);
  });
});
