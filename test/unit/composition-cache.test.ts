import { describe, expect, it } from 'vitest';
import { composeDesired, prepareDeployments } from '../../controller/desired-state/compose-desired.js';
import { CompositionCache } from '../../controller/desired-state/composition-cache.js';
import type { Deployment } from '../../controller/model/deployment.js';
import { emptyOverrides, type Device, type DeviceOverrides } from '../../controller/model/device.js';
import { Release } from '../../controller/model/release.js';

const T = '2026-11-23T00:00:00.000Z';
const releases = new Map(
  ['1', '2'].map((v) => {
    const r = Release.parse({ app: 'kiosk', version: v, workloads: { web: { image: `reg/kiosk:${v}`, env: { MODE: 'r' } } }, createdAt: T, digest: `kiosk@${v}` });
    return [`kiosk@${v}`, r] as const;
  }),
);
const deployments: Deployment[] = [
  { id: 'fleet', app: 'kiosk', version: '1', target: { kind: 'selector', selector: 'role=kiosk' }, priority: 0, createdAt: T, seq: 1 },
  { id: 'canary', app: 'kiosk', version: '2', target: { kind: 'selector', selector: 'tier=canary' }, priority: 10, createdAt: T, seq: 2 },
  { id: 'one', app: 'kiosk', version: '2', target: { kind: 'devices', devices: ['d-7'] }, priority: 20, createdAt: T, seq: 3 },
];
function device(id: string, labels: Record<string, string>, overrides: Partial<DeviceOverrides> = {}): Device {
  return { id, labels, createdAt: T, overrides: { ...emptyOverrides(), ...overrides } };
}

describe('CompositionCache', () => {
  it('composes each distinct input once, and every device exactly as composeDesired does', () => {
    const prepared = prepareDeployments(deployments);
    const cache = new CompositionCache(prepared, releases);
    const fleet = [
      ...Array.from({ length: 20 }, (_, i) => device(`d-${i}`, { role: 'kiosk', ...(i % 2 ? { tier: 'canary' } : {}) })),
      device('env-a', { role: 'kiosk' }, { env: { SITE: 'a' } }),
      device('env-b', { role: 'kiosk' }, { env: { SITE: 'b' } }),
      device('pinned', { role: 'kiosk', tier: 'canary' }, { pins: { kiosk: '1' } }),
      device('none', { role: 'other' }),
    ];
    for (const d of fleet) expect(cache.compose(d)).toEqual(composeDesired(d, prepared, releases));
    // fleet only; fleet+canary; d-7 (fleet+canary+one); two env overrides; a pin; nothing.
    expect(cache.size).toBe(7);
    expect(cache.compose(fleet[0] as Device)).toBe(cache.compose(fleet[2] as Device));
  });
});
