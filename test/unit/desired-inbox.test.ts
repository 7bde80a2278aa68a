import { describe, expect, it } from 'vitest';
import { classifyDesired, type InboxContext } from '../../agent/mqtt/desired-inbox.js';
import { checkPolicy, type AgentPolicy } from '../../agent/reconcile/policy.js';
import { devicePolicy } from '../../agent/policy/device-policy.js';
import { fakeHostFs } from '../helpers/fake-host-fs.js';
import { DesiredState, type DesiredStateInput } from '../../shared/schemas/desired-state.js';

/** The device policy on a host where none of the paths exist (full cases: device-policy.test.ts). */
const policyOf = (allowedHostPaths: string[]): AgentPolicy => ({
  rules: devicePolicy({ allowedHostPaths, stateDir: '/var/lib/outpost', secretFiles: [], allowedCapabilities: [], allowedVolumes: [] }),
  fs: fakeHostFs({}),
});

const ctx = (over: Partial<InboxContext> = {}): InboxContext => ({
  deviceId: 'kiosk-a',
  highestVersion: 3,
  maxBytes: 4096,
  policy: policyOf([]),
  signatures: { mode: 'off' },
  ...over,
});

function doc(over: Partial<DesiredStateInput> = {}): DesiredStateInput {
  return {
    protocol: 1,
    deviceId: 'kiosk-a',
    version: 4,
    issuedAt: '2026-11-23T10:00:00Z',
    workloads: { web: { image: 'busybox:1' } },
    ...over,
  };
}
const buf = (v: unknown): Buffer => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

describe('classifyDesired (latest wins)', () => {
  it('accepts a newer valid document', () => {
    const v = classifyDesired(buf(doc()), ctx());
    expect(v.kind).toBe('accept');
    if (v.kind === 'accept') expect(v.doc.version).toBe(4);
  });

  it('accepts the first document when nothing is held', () => {
    expect(classifyDesired(buf(doc({ version: 1 })), ctx({ highestVersion: null })).kind).toBe('accept');
  });

  it('ignores an older version', () => {
    const v = classifyDesired(buf(doc({ version: 2 })), ctx());
    expect(v).toEqual({ kind: 'ignore', version: 2, reason: 'older than 3', code: 'DESIRED_OUTDATED' });
  });

  const creds = { 'registry.example.com:5000': { username: 'u', password: 'p' } };
  const bind = { web: { image: 'busybox:1', volumes: [{ type: 'bind' as const, source: '/etc', target: '/x' }] } };
  const sameVersion: [string, Buffer, ReturnType<typeof classifyDesired>][] = [
    ['valid, with credentials → refresh them', buf(doc({ version: 3, registryAuth: creds })), { kind: 'refresh', version: 3, registryAuth: creds, expiresAt: null, trust: null }],
    ['valid, without credentials → refresh (to none)', buf(doc({ version: 3 })), { kind: 'refresh', version: 3, registryAuth: undefined, expiresAt: null, trust: null }],
    ['outside the policy → duplicate', buf(doc({ version: 3, registryAuth: creds, workloads: bind })), { kind: 'ignore', version: 3, reason: 'duplicate' }],
    ['schema violation → ignored', buf({ ...doc({ version: 3 }), workloads: 'nope' }), { kind: 'ignore', version: 3, reason: 'invalid and not newer than 3' }],
    [
      'for another device → rejected',
      buf(doc({ version: 3, deviceId: 'kiosk-b', registryAuth: creds })),
      { kind: 'reject', code: 'DESIRED_WRONG_DEVICE', reason: 'document is for device kiosk-b, this is kiosk-a', version: 3 },
    ],
  ];
  it.each(sameVersion)('the version already held (DD-019): %s', (_name, payload, verdict) => {
    expect(classifyDesired(payload, ctx())).toEqual(verdict);
  });

  it('an older version never refreshes credentials', () => {
    expect(classifyDesired(buf(doc({ version: 2, registryAuth: creds })), ctx()).kind).toBe('ignore');
  });

  it('ignores an empty payload (retained message cleared)', () => {
    expect(classifyDesired(Buffer.alloc(0), ctx()).kind).toBe('ignore');
  });

  it('ignores a malformed document that is not newer anyway', () => {
    const v = classifyDesired(buf({ ...doc({ version: 2 }), workloads: 'nope' }), ctx());
    expect(v.kind).toBe('ignore');
  });

  const rejects: [string, Buffer, string][] = [
    ['invalid JSON', buf('{"protocol":1,'), 'DESIRED_INVALID_JSON'],
    ['schema violation', buf({ ...doc(), workloads: { web: { image: 'UPPER/Case' } } }), 'DESIRED_SCHEMA'],
    ['unknown field', buf({ ...doc(), privileged: true }), 'DESIRED_SCHEMA'],
    ['another device', buf(doc({ deviceId: 'kiosk-b' })), 'DESIRED_WRONG_DEVICE'],
    ['oversized', buf({ ...doc(), workloads: { web: { image: 'busybox:1', env: { A: 'x'.repeat(5000) } } } }), 'DESIRED_TOO_LARGE'],
    ['newer protocol', buf({ ...doc(), protocol: 2 }), 'DESIRED_PROTOCOL'],
    ['JSON that is not an object', buf('[1,2,3]'), 'DESIRED_SCHEMA'],
    ['bind mount not allowed', buf(doc({ workloads: { web: { image: 'busybox:1', volumes: [{ type: 'bind', source: '/etc', target: '/x' }] } } })), 'DESIRED_POLICY'],
  ];
  it.each(rejects)('rejects %s', (_name, payload, code) => {
    const v = classifyDesired(payload, ctx());
    expect(v.kind).toBe('reject');
    if (v.kind === 'reject') {
      expect(v.code).toBe(code);
      expect(v.reason.length).toBeGreaterThan(5);
    }
  });

  it('reports the version of a rejected document when it has one', () => {
    const v = classifyDesired(buf(doc({ deviceId: 'other', version: 9 })), ctx());
    expect(v).toMatchObject({ kind: 'reject', version: 9 });
  });
});

describe('checkPolicy', () => {
  const withBind = (source: string) =>
    DesiredState.parse(doc({ workloads: { web: { image: 'busybox:1', volumes: [{ type: 'bind', source, target: '/data' }] } } }));

  it('allows named volumes and tmpfs without configuration', () => {
    const d = DesiredState.parse(
      doc({ workloads: { web: { image: 'busybox:1', volumes: [{ type: 'volume', name: 'data', target: '/d' }, { type: 'tmpfs', target: '/t' }] } } }),
    );
    expect(checkPolicy(d, policyOf([]))).toBeNull();
  });
  it('allows bind mounts under an allowed prefix only', () => {
    expect(checkPolicy(withBind('/srv/app/data'), policyOf(['/srv/app']))).toBeNull();
    expect(checkPolicy(withBind('/srv/application'), policyOf(['/srv/app']))).toMatch(/outside/);
    expect(checkPolicy(withBind('/srv'), policyOf(['/srv/app']))).toMatch(/outside/);
  });
  it('never allows the Docker socket, even under an allowed prefix', () => {
    expect(checkPolicy(withBind('/var/run/docker.sock'), policyOf(['/var/run']))).toMatch(/container engine/);
    expect(checkPolicy(withBind('/run'), policyOf(['/']))).toMatch(/container engine/);
  });
});
