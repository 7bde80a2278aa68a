import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FleetGauges, type FleetGaugeSources } from '../../controller/metrics/fleet-gauges.js';
import type { FleetSnapshot } from '../../controller/read-models/fleet-summary.js';
import { versionsBehind } from '../../controller/read-models/fleet-summary.js';
import type { DeviceSummary } from '../../controller/views.js';
import { silentLogger } from '../../shared/logger.js';
import { createMetricsEndpoint } from '../../shared/metrics-endpoint.js';
import { parsePromText, sampleValue, valuesBy } from '../helpers/prom-text.js';

const row = (id: string, desiredVersion: number | null, appliedVersion: number | null, phase: DeviceSummary['phase'] = 'converged'): DeviceSummary => ({
  id,
  labels: {},
  createdAt: '2026-12-01T00:00:00.000Z',
  online: true,
  lastSeen: null,
  phase,
  desiredVersion,
  appliedVersion,
  inSync: desiredVersion === appliedVersion,
  pending: false,
  decommissioning: false,
});

function snapshotOf(devices: DeviceSummary[]): FleetSnapshot {
  const byPhase: Record<string, number> = {};
  for (const d of devices) byPhase[d.phase] = (byPhase[d.phase] ?? 0) + 1;
  return {
    devices,
    summary: {
      devices: devices.length,
      online: devices.length,
      offline: 0,
      byPhase,
      inSync: devices.filter((d) => d.inSync).length,
      lagging: devices.filter((d) => versionsBehind(d) > 0).length,
      byRelease: {},
      pending: 0,
      pendingDevices: [],
      decommissioning: [],
      deployments: 1,
      releases: 1,
    },
  };
}

/** One scrape through the endpoint /metrics serves. */
async function scrape(sources: Omit<FleetGaugeSources, 'logger'>) {
  const registry = new Registry();
  const gauges = new FleetGauges(registry, { ...sources, logger: silentLogger() });
  return parsePromText(await createMetricsEndpoint(registry, () => gauges.collect()).render());
}

describe('fleet gauges (DD-039)', () => {
  it.each([
    [{ desiredVersion: null, appliedVersion: null }, 0],
    [{ desiredVersion: null, appliedVersion: 4 }, 0],
    [{ desiredVersion: 5, appliedVersion: 5 }, 0],
    [{ desiredVersion: 5, appliedVersion: 7 }, 0],
    [{ desiredVersion: 5, appliedVersion: 3 }, 2],
    [{ desiredVersion: 5, appliedVersion: null }, 5],
  ])('versionsBehind(%o) = %i', (r, expected) => {
    expect(versionsBehind(r)).toBe(expected);
  });

  it('buckets lagging devices by versions behind, zero-fills phases, and times the PING with the injected clock', async () => {
    const devices = [row('a', 3, 3), row('b', 3, 2, 'applying'), row('c', 9, 5, 'failed'), row('d', 20, null, 'unknown'), row('e', 12, 10, 'applying')];
    let tick = 0n;
    const families = await scrape({
      snapshot: async () => snapshotOf(devices),
      rollouts: async () => [],
      ping: async () => 'PONG',
      hrtime: () => (tick += 2_000_000n),
    });
    expect(valuesBy(families, 'outpost_devices_versions_behind', 'behind')).toEqual({ '1': 1, '2': 1, '3-5': 1, '6-10': 0, '11+': 1 });
    expect(sampleValue(families, 'outpost_devices_lagging')).toBe(4);
    expect(sampleValue(families, 'outpost_devices_version_lag_max')).toBe(20);
    expect(valuesBy(families, 'outpost_devices_by_phase', 'phase')).toEqual({
      idle: 0,
      applying: 2,
      deferred: 0,
      converged: 1,
      degraded: 0,
      failed: 1,
      'rolled-back': 0,
      unknown: 1,
    });
    expect(sampleValue(families, 'outpost_redis_ping_seconds_sum')).toBeCloseTo(0.002);
    expect(valuesBy(families, 'outpost_rollouts', 'phase')).toMatchObject({ running: 0, scheduled: 0 });
  });

  it('a part that cannot be read leaves its gauges out (never stale) and reports collect_success 0', async () => {
    const registry = new Registry();
    let fail = false;
    const gauges = new FleetGauges(registry, {
      snapshot: async () => (fail ? Promise.reject(new Error('redis down')) : snapshotOf([row('a', 1, null)])),
      rollouts: async () => [],
      ping: async () => (fail ? Promise.reject(new Error('redis down')) : 'PONG'),
      logger: silentLogger(),
    });
    const endpoint = createMetricsEndpoint(registry, () => gauges.collect());
    expect(sampleValue(parsePromText(await endpoint.render()), 'outpost_devices_lagging')).toBe(1);
    fail = true;
    const families = parsePromText(await endpoint.render());
    expect(valuesBy(families, 'outpost_metrics_collect_success', 'part')).toEqual({ fleet: 0, rollouts: 1, redis: 0 });
    // Absent, not 0: "no devices online" would page someone for a Redis blip.
    for (const name of ['outpost_devices', 'outpost_devices_online', 'outpost_devices_lagging', 'outpost_devices_by_phase']) expect(families.has(name), name).toBe(false);
    expect(families.has('outpost_rollouts')).toBe(true);
    fail = false;
    expect(sampleValue(parsePromText(await endpoint.render()), 'outpost_devices_online')).toBe(1);
  });
});
