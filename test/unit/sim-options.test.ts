import { describe, expect, it } from 'vitest';
import { simOptionsFromFlags } from '../../cli/sim/sim-options.js';
import { simDeviceIds } from '../../cli/sim/enroll-devices.js';
import { fleetProgress, progressLine } from '../../cli/sim/sim-progress.js';
import type { DeviceSummaryBody } from '../../cli/client/responses.js';

describe('outpost sim options', () => {
  it('defaults: sim=true label, loopback broker, warn logs, no faults, at most one worker per device', () => {
    const o = simOptionsFromFlags({ devices: '3', workers: '8', label: [] }, { site: 'lab' });
    expect(o).toMatchObject({
      devices: 3,
      workers: 3,
      prefix: 'sim',
      labels: { site: 'lab', sim: 'true' },
      brokerUrl: 'mqtt://127.0.0.1:1883',
      pullFailureRate: 0,
      startFailureRate: 0,
      flakyHealthSequence: ['starting', 'unhealthy'],
      logLevel: 'warn',
      cleanup: false,
      progressIntervalMs: 2000,
    });
  });

  it('every bad option is listed at once as a USAGE error', () => {
    expect(() =>
      simOptionsFromFlags({ devices: '0', label: [], failureRate: '1.5', flakyHealth: 'starting,sick', prefix: 'Bad!', broker: 'http://x' }, {}),
    ).toThrow(/devices.*prefix.*brokerUrl.*pullFailureRate.*flakyHealthSequence/s);
  });

  it('device ids are fixed-width and in order', () => {
    expect(simDeviceIds('sim', 3)).toEqual(['sim-000', 'sim-001', 'sim-002']);
    expect(simDeviceIds('x', 1001).at(-1)).toBe('x-1000');
  });

  it('progress counts only this run\'s devices, phases in a fixed order', () => {
    const d = (id: string, phase: string, online = true) => ({ id, phase, online, inSync: phase === 'converged', appliedVersion: 1 }) as unknown as DeviceSummaryBody;
    const p = fleetProgress([d('a', 'failed'), d('b', 'converged'), d('c', 'converged', false), d('other', 'converged')], new Set(['a', 'b', 'c']));
    expect(progressLine(p)).toBe('simulated fleet: 2/3 connected · 2 converged · 1 failed');
  });
});
