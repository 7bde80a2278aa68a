import { describe, expect, it } from 'vitest';
import { composeDesired, prepareDeployments } from '../../controller/desired-state/compose-desired.js';
import type { Deployment } from '../../controller/model/deployment.js';
import { emptyOverrides, type Device, type DeviceOverrides } from '../../controller/model/device.js';
import { Release } from '../../controller/model/release.js';

const T = '2026-11-23T00:00:00.000Z';
function release(app: string, version: string, env: Record<string, string> = {}, workloads = ['web']): Release {
  return Release.parse({
    app,
    version,
    workloads: Object.fromEntries(workloads.map((w) => [w, { image: `reg:5000/${app}-${w}:${version}`, env }])),
    createdAt: T,
    digest: `${app}@${version}`,
  });
}
const releases = new Map(
  [release('kiosk', '1', { MODE: 'fleet', LEVEL: 'r' }), release('kiosk', '2'), release('kiosk', '3'), release('agentx', '1', {}, ['a', 'b'])].map((r) => [
    `${r.app}@${r.version}`,
    r,
  ]),
);
let seq = 0;
function dep(id: string, app: string, version: string, target: Deployment['target'], priority = 0): Deployment {
  return { id, app, version, target, priority, createdAt: T, seq: ++seq };
}
function device(id: string, labels: Record<string, string>, overrides: Partial<DeviceOverrides> = {}): Device {
  return { id, labels, createdAt: T, overrides: { ...emptyOverrides(), ...overrides } };
}

const fleet = dep('fleet', 'kiosk', '1', { kind: 'selector', selector: 'role=kiosk' });
const canary = dep('canary', 'kiosk', '2', { kind: 'selector', selector: 'role=kiosk,tier=canary' }, 10);
const tieOld = dep('tie-old', 'kiosk', '1', { kind: 'devices', devices: ['k-a'] }, 5);
const tieNew = dep('tie-new', 'kiosk', '3', { kind: 'devices', devices: ['k-a'] }, 5);
const other = dep('other', 'agentx', '1', { kind: 'selector', selector: 'site' });

function compose(d: Device, deployments: Deployment[]) {
  return composeDesired(d, prepareDeployments(deployments), releases);
}

describe('composeDesired', () => {
  it('no deployment targets the device → no workloads', () => {
    const r = compose(device('s', { role: 'sensor' }), [fleet]);
    expect(r.workloads).toEqual({});
    expect(r.apps).toEqual([]);
  });

  it('a selector deployment gives the release workloads, named <app>-<workload>, with provenance', () => {
    const r = compose(device('k-a', { role: 'kiosk' }), [fleet]);
    expect(Object.keys(r.workloads)).toEqual(['kiosk-web']);
    expect(r.workloads['kiosk-web']?.image).toBe('reg:5000/kiosk-web:1');
    expect(r.provenance['kiosk-web']).toEqual({ deployment: 'fleet', release: 'kiosk@1' });
  });

  it('the highest priority wins per app and the others are shadowed', () => {
    const r = compose(device('k-a', { role: 'kiosk', tier: 'canary' }), [fleet, canary]);
    expect(r.apps).toEqual([{ app: 'kiosk', deploymentId: 'canary', version: '2', source: 'deployment', shadowed: ['fleet'] }]);
    expect(compose(device('k-b', { role: 'kiosk' }), [fleet, canary]).apps[0]?.deploymentId).toBe('fleet');
  });

  it('equal priority: the newest deployment wins', () => {
    const r = compose(device('k-a', { role: 'kiosk' }), [tieOld, tieNew]);
    expect(r.apps[0]).toMatchObject({ deploymentId: 'tie-new', version: '3', shadowed: ['tie-old'] });
  });

  it('a pin wins over every deployment and survives a newer, higher one', () => {
    const d = device('k-a', { role: 'kiosk', tier: 'canary' }, { pins: { kiosk: '1' } });
    const r = compose(d, [fleet, canary, tieNew]);
    expect(r.apps[0]).toMatchObject({ version: '1', source: 'pin', deploymentId: 'canary' });
    expect(r.workloads['kiosk-web']?.image).toBe('reg:5000/kiosk-web:1');
  });

  it('a pin alone does not deploy an app nobody targets the device with', () => {
    const r = compose(device('s', { role: 'sensor' }, { pins: { kiosk: '1' } }), [fleet]);
    expect(r.workloads).toEqual({});
  });

  it('env precedence: device+workload > device > release', () => {
    const d = device('k-a', { role: 'kiosk' }, { env: { MODE: 'device', SITE: 'a' }, workloadEnv: { 'kiosk-web': { MODE: 'workload' } } });
    const r = compose(d, [fleet]);
    expect(r.workloads['kiosk-web']?.env).toEqual({ MODE: 'workload', LEVEL: 'r', SITE: 'a' });
  });

  it('overrides survive any later fleet deployment', () => {
    const d = device('k-a', { role: 'kiosk' }, { env: { SITE: 'a' } });
    const later = dep('later', 'kiosk', '3', { kind: 'selector', selector: 'role=kiosk' }, 100);
    expect(compose(d, [fleet, later]).workloads['kiosk-web']?.env).toEqual({ SITE: 'a' });
  });

  it('several apps compose side by side', () => {
    const r = compose(device('k-a', { role: 'kiosk', site: 'a' }), [fleet, other]);
    expect(Object.keys(r.workloads).sort()).toEqual(['agentx-a', 'agentx-b', 'kiosk-web']);
  });

  it('a missing release is a problem, not a crash, and that app is left out', () => {
    const ghost = dep('ghost', 'kiosk', '9', { kind: 'devices', devices: ['k-a'] }, 99);
    const r = compose(device('k-a', { role: 'kiosk' }), [fleet, ghost]);
    expect(r.problems).toEqual(['kiosk@9 (deployment ghost) does not exist']);
    expect(r.workloads).toEqual({});
  });

  it('content hash: equal content, equal hash; any change, another hash', () => {
    const a = compose(device('k-a', { role: 'kiosk' }), [fleet]);
    const b = compose(device('k-a', { role: 'kiosk', unrelated: 'x' }), [fleet]);
    const c = compose(device('k-a', { role: 'kiosk' }, { env: { X: '1' } }), [fleet]);
    expect(a.contentHash).toBe(b.contentHash);
    expect(a.contentHash).not.toBe(c.contentHash);
  });
});
