import { describe, expect, it } from 'vitest';
import { composeApplyPolicy } from '../../controller/desired-state/compose-apply-policy.js';
import { composeDesired, prepareDeployments } from '../../controller/desired-state/compose-desired.js';
import type { DeploymentApplyPolicy } from '../../controller/model/apply-policy.js';
import type { Deployment } from '../../controller/model/deployment.js';
import { emptyOverrides, type Device } from '../../controller/model/device.js';
import { Release } from '../../controller/model/release.js';
import { DesiredState } from '../../shared/schemas/desired-state.js';

const T = '2026-11-23T00:00:00.000Z';
const nightly = { cron: '0 2 * * *', durationMinutes: 120, timezone: 'Europe/Berlin' };
const weekly = { cron: '0 3 * * 0', durationMinutes: 60, timezone: 'UTC' };

function dep(seq: number, app: string, apply?: DeploymentApplyPolicy, version = '1'): Deployment {
  return { id: `d${seq}`, app, version, target: { kind: 'selector', selector: 'role=kiosk' }, priority: 0, createdAt: T, seq, ...(apply ? { apply } : {}) };
}

describe('composeApplyPolicy (DD-040)', () => {
  it.each<[string, Deployment[], ReturnType<typeof composeApplyPolicy>]>([
    ['no winners: no policy', [], { force: false }],
    ['winners without policies: no policy', [dep(1, 'a'), dep(2, 'b')], { force: false }],
    ['one window', [dep(1, 'a', { window: nightly })], { apply: { window: nightly }, force: false }],
    [
      'after: the latest of the winners, whoever is newest',
      [dep(1, 'a', { after: '2026-12-02T00:00:00.000Z' }), dep(2, 'b', { after: '2026-12-01T00:00:00.000Z' })],
      { apply: { after: '2026-12-02T00:00:00.000Z' }, force: false },
    ],
    ['window: the newest winner that sets one', [dep(3, 'a', { window: nightly }), dep(5, 'b', { window: weekly }), dep(7, 'c')], { apply: { window: weekly }, force: false }],
    [
      'after and window come from different winners',
      [dep(1, 'a', { window: nightly }), dep(2, 'b', { after: '2026-12-01T00:00:00.000Z' })],
      { apply: { after: '2026-12-01T00:00:00.000Z', window: nightly }, force: false },
    ],
    ['force: the newest winner asks for it', [dep(1, 'a'), dep(2, 'b', { force: true })], { force: true }],
    ['force: an older winner\'s force does not carry a newer change', [dep(1, 'a', { force: true }), dep(2, 'b')], { force: false }],
  ])('%s', (_name, winners, expected) => {
    expect(composeApplyPolicy(winners)).toEqual(expected);
    expect(composeApplyPolicy([...winners].reverse())).toEqual(expected);
  });
});

describe('composeDesired with apply policies', () => {
  const release = (app: string, version: string): Release =>
    Release.parse({ app, version, workloads: { web: { image: `reg:5000/${app}:${version}` } }, createdAt: T, digest: `${app}@${version}` });
  const releases = new Map([release('kiosk', '1'), release('kiosk', '2'), release('clock', '1')].map((r) => [`${r.app}@${r.version}`, r]));
  const device: Device = { id: 'k-a', labels: { role: 'kiosk' }, createdAt: T, overrides: emptyOverrides() };
  const compose = (deployments: Deployment[]) => composeDesired(device, prepareDeployments(deployments), releases);

  it('a shadowed deployment\'s policy counts for nothing', () => {
    const low = { ...dep(1, 'kiosk', { window: nightly, force: true }), priority: -1 };
    const r = compose([low, dep(2, 'kiosk', undefined, '2')]);
    expect(r.policy).toEqual({ force: false });
  });

  it('a deployment without a policy hashes as before DD-040; a policy changes the hash, so the device gets a new version', () => {
    const plain = compose([dep(1, 'kiosk')]);
    const windowed = compose([dep(1, 'kiosk', { window: nightly })]);
    const forced = compose([dep(1, 'kiosk', { force: true })]);
    expect(plain.workloads).toEqual(windowed.workloads);
    expect(new Set([plain.contentHash, windowed.contentHash, forced.contentHash]).size).toBe(3);
    expect(compose([dep(1, 'kiosk', { window: nightly })]).contentHash).toBe(windowed.contentHash);
  });

  it('the folded policy makes a valid protocol v1 document', () => {
    const r = compose([dep(1, 'kiosk', { window: nightly, after: '2026-12-01T02:00:00.000Z' }), dep(2, 'clock', { force: true })]);
    const doc = DesiredState.parse({ protocol: 1, deviceId: 'k-a', version: 1, issuedAt: T, workloads: r.workloads, provenance: r.provenance, ...r.policy });
    expect(doc.apply).toEqual({ after: '2026-12-01T02:00:00.000Z', window: nightly });
    expect(doc.force).toBe(true);
  });
});
