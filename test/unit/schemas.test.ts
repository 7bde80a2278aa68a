import { describe, it, expect } from 'vitest';
import { LIMITS } from '../../shared/limits.js';
import {
  DesiredState,
  DeviceEvent,
  Presence,
  ReportedState,
  type DesiredStateInput,
  type DeviceEventInput,
} from '../../shared/schemas/index.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const AT = '2026-11-23T19:33:02.000Z';

function desired(overrides: Record<string, unknown> = {}, workload: Record<string, unknown> = {}): unknown {
  const doc: DesiredStateInput = {
    protocol: 1,
    deviceId: 'dev-1',
    version: 7,
    issuedAt: AT,
    workloads: {
      web: { image: `registry.local:5000/app/web@${DIGEST}` },
    },
  };
  return { ...doc, ...overrides, workloads: overrides.workloads ?? { web: { ...doc.workloads.web, ...workload } } };
}

function reported(overrides: Record<string, unknown> = {}): unknown {
  return {
    protocol: 1,
    deviceId: 'dev-1',
    reportedAt: AT,
    agent: { version: '0.1.0', bootId: 'b0a7', startedAt: AT },
    desired: { seenVersion: 7, appliedVersion: 7, applyingVersion: null },
    phase: 'converged',
    workloads: {
      web: {
        state: 'running',
        reason: 'container running',
        image: 'busybox:1.36',
        imageId: `sha256:${'b'.repeat(64)}`,
        imageDigest: `busybox@${DIGEST}`,
        containerId: 'c'.repeat(64),
        specHash: 'd'.repeat(64),
      },
    },
    errors: [],
    rejected: null,
    ...overrides,
  };
}

function presence(overrides: Record<string, unknown> = {}): unknown {
  return { protocol: 1, deviceId: 'dev-1', status: 'online', epoch: 1_763_926_382_000, at: AT, ...overrides };
}

function event(overrides: Record<string, unknown> = {}): unknown {
  const doc: DeviceEventInput = {
    protocol: 1,
    deviceId: 'dev-1',
    id: '01JDA7Q5W8K3',
    at: AT,
    type: 'desired.rejected',
    level: 'error',
    message: 'desired payload is not valid JSON',
  };
  return { ...doc, ...overrides };
}

function issuesOf(result: { success: boolean; error?: { issues: ReadonlyArray<{ path: PropertyKey[] }> } }): string[] {
  return (result.error?.issues ?? []).map((i) => i.path.map(String).join('.'));
}

describe('DesiredState', () => {
  it('accepts a minimal document and applies defaults', () => {
    const parsed = DesiredState.parse(desired());
    expect(parsed.provenance).toEqual({});
    expect(parsed.signature).toBeNull();
    expect(parsed.force).toBe(false);
    expect(parsed.workloads.web).toEqual({
      image: `registry.local:5000/app/web@${DIGEST}`,
      restart: 'unless-stopped',
      pullPolicy: 'if-not-present',
      stopTimeoutSeconds: 10,
      minReadySeconds: 0,
      strategy: 'download-then-kill',
    });
  });

  it('accepts a full document and keeps what was given', () => {
    const doc = desired(
      {
        provenance: { web: { deployment: 'dep-1', release: 'web@1.2.0', rollout: 'r-9' } },
        signature: { alg: 'ed25519', keyId: 'k1', value: 'c2ln' },
        workloads: {
          web: {
            image: 'busybox:1.36',
            command: ['httpd', '-f', '-p', '8080'],
            entrypoint: ['/bin/sh', '-c'],
            env: { MODE: 'prod', _X: '', A1: 'x=y' },
            ports: [{ container: 8080, host: 80 }, { container: 53, host: 5353, protocol: 'udp', hostIp: '127.0.0.1' }],
            volumes: [
              { type: 'volume', name: 'data', target: '/data' },
              { type: 'bind', source: '/srv/web', target: '/srv', readOnly: true },
              { type: 'tmpfs', target: '/tmp', sizeBytes: 1_048_576 },
            ],
            restart: 'on-failure',
            restartMaxRetries: 3,
            resources: { memoryBytes: 64 * 1024 * 1024, cpus: 0.5, pidsLimit: 100 },
            labels: { 'com.example.role': 'frontend' },
            user: '1000:1000',
            workingDir: '/srv',
            stopTimeoutSeconds: 30,
            pullPolicy: 'always',
          },
          'db-1': { image: 'localhost/db' },
        },
      },
    );
    const parsed = DesiredState.parse(doc);
    expect(parsed.signature).toEqual({ alg: 'ed25519', keyId: 'k1', value: 'c2ln' });
    expect(parsed.provenance.web?.release).toBe('web@1.2.0');
    const web = parsed.workloads.web;
    expect(web?.restart).toBe('on-failure');
    expect(web?.pullPolicy).toBe('always');
    expect(web?.stopTimeoutSeconds).toBe(30);
    expect(web?.ports?.[0]?.protocol).toBe('tcp');
    expect(web?.volumes?.[0]).toEqual({ type: 'volume', name: 'data', target: '/data', readOnly: false });
    expect(parsed.workloads['db-1']?.restart).toBe('unless-stopped');
  });

  it('accepts an empty workload map (remove everything)', () => {
    expect(DesiredState.safeParse(desired({ workloads: {} })).success).toBe(true);
  });

  it.each([
    ['protocol 2', { protocol: 2 }, 'protocol'],
    ['protocol 0', { protocol: 0 }, 'protocol'],
    ['protocol as string', { protocol: '1' }, 'protocol'],
    ['missing protocol', { protocol: undefined }, 'protocol'],
    ['version 0', { version: 0 }, 'version'],
    ['negative version', { version: -1 }, 'version'],
    ['float version', { version: 1.5 }, 'version'],
    ['unsafe integer version', { version: Number.MAX_SAFE_INTEGER + 1 }, 'version'],
    ['version as string', { version: '7' }, 'version'],
    ['NaN version', { version: Number.NaN }, 'version'],
    ['invalid device id', { deviceId: 'Dev/1' }, 'deviceId'],
    ['issuedAt without zone', { issuedAt: '2026-11-23T19:33:02' }, 'issuedAt'],
    ['issuedAt garbage', { issuedAt: 'yesterday' }, 'issuedAt'],
    ['unknown top-level key', { extra: true }, ''],
    ['workloads as array', { workloads: [] }, 'workloads'],
    ['provenance for a bad name', { provenance: { Web: {} } }, 'provenance.Web'],
    ['unknown provenance key', { provenance: { web: { by: 'me' } } }, 'provenance.web'],
    ['signature missing value', { signature: { alg: 'ed25519', keyId: 'k1' } }, 'signature'],
  ])('rejects %s', (_label, overrides, path) => {
    const result = DesiredState.safeParse(desired(overrides));
    expect(result.success).toBe(false);
    expect(issuesOf(result)).toContain(path);
  });

  it.each([
    ['upper case', 'Web'],
    ['leading dash', '-web'],
    ['dot', 'web.app'],
    ['slash', 'web/1'],
    ['space', 'we b'],
    ['empty', ''],
    ['64 chars', 'w'.repeat(64)],
  ])('rejects workload name with %s', (_label, name) => {
    const result = DesiredState.safeParse(desired({ workloads: { [name]: { image: 'busybox' } } }));
    expect(result.success).toBe(false);
  });

  it(`accepts ${LIMITS.maxWorkloads} workloads and rejects one more`, () => {
    const many = (n: number): Record<string, unknown> =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`w${i}`, { image: 'busybox' }]));
    expect(DesiredState.safeParse(desired({ workloads: many(LIMITS.maxWorkloads) })).success).toBe(true);
    const result = DesiredState.safeParse(desired({ workloads: many(LIMITS.maxWorkloads + 1) }));
    expect(result.success).toBe(false);
    expect(issuesOf(result)).toContain('workloads');
  });

  it.each([
    ['upper-case image', { image: 'BusyBox' }, 'image'],
    ['image with space', { image: 'busy box' }, 'image'],
    ['image with short digest', { image: 'busybox@sha256:abc' }, 'image'],
    ['empty image', { image: '' }, 'image'],
    ['env name with =', { env: { 'A=B': 'x' } }, 'env.A=B'],
    ['env name starting with digit', { env: { '1A': 'x' } }, 'env.1A'],
    ['env value not a string', { env: { A: 1 } }, 'env.A'],
    ['reserved label', { labels: { 'io.outpost.x': 'y' } }, 'labels.io.outpost.x'],
    ['reserved label, agent key', { labels: { 'io.outpost.spec-hash': 'y' } }, 'labels.io.outpost.spec-hash'],
    ['upper-case label', { labels: { 'Com.Example': 'y' } }, 'labels.Com.Example'],
    ['relative bind source', { volumes: [{ type: 'bind', source: 'srv/web', target: '/srv' }] }, 'volumes.0.source'],
    ['relative target', { volumes: [{ type: 'volume', name: 'data', target: 'data' }] }, 'volumes.0.target'],
    ['.. in bind source', { volumes: [{ type: 'bind', source: '/srv/../etc', target: '/etc' }] }, 'volumes.0.source'],
    ['trailing .. in target', { volumes: [{ type: 'tmpfs', target: '/tmp/..' }] }, 'volumes.0.target'],
    ['unknown volume type', { volumes: [{ type: 'nfs', target: '/x' }] }, 'volumes.0.type'],
    ['relative workingDir', { workingDir: 'srv' }, 'workingDir'],
    ['port 0', { ports: [{ container: 0, host: 80 }] }, 'ports.0.container'],
    ['port 65536', { ports: [{ container: 80, host: 65536 }] }, 'ports.0.host'],
    ['bad hostIp', { ports: [{ container: 80, host: 80, hostIp: 'localhost' }] }, 'ports.0.hostIp'],
    ['sctp port', { ports: [{ container: 80, host: 80, protocol: 'sctp' }] }, 'ports.0.protocol'],
    ['unknown restart policy', { restart: 'sometimes' }, 'restart'],
    ['unknown pull policy', { pullPolicy: 'never' }, 'pullPolicy'],
    ['negative stop timeout', { stopTimeoutSeconds: -1 }, 'stopTimeoutSeconds'],
    ['memory below 4 MiB', { resources: { memoryBytes: 1024 } }, 'resources.memoryBytes'],
    ['privileged (not in the protocol)', { privileged: true }, 'workloads.web'],
    ['network mode (not in the protocol)', { networkMode: 'host' }, 'workloads.web'],
    ['unknown resources key', { resources: { swap: 1 } }, 'resources'],
  ])('rejects workload with %s', (_label, workload, path) => {
    const result = DesiredState.safeParse(desired({}, workload));
    expect(result.success).toBe(false);
    const prefixed = path.startsWith('workloads') ? path : `workloads.web.${path}`;
    expect(issuesOf(result)).toContain(prefixed);
  });

  it('allows ".." inside a file name, only a ".." segment is refused', () => {
    const result = DesiredState.safeParse(desired({}, { volumes: [{ type: 'bind', source: '/srv/..data', target: '/d' }] }));
    expect(result.success).toBe(true);
  });

  it(`rejects more than ${LIMITS.maxEnvEntries} env entries`, () => {
    const env = Object.fromEntries(Array.from({ length: LIMITS.maxEnvEntries + 1 }, (_, i) => [`E${i}`, 'x']));
    expect(DesiredState.safeParse(desired({}, { env })).success).toBe(false);
  });
});

describe('ReportedState', () => {
  it('accepts a converged report and fills workload defaults', () => {
    const parsed = ReportedState.parse(reported());
    expect(parsed.workloads.web).toMatchObject({ exitCode: null, restartCount: 0, startedAt: null });
  });

  it('accepts a failed report with errors and a rejected block', () => {
    const doc = reported({
      phase: 'failed',
      desired: { seenVersion: 8, appliedVersion: 7, applyingVersion: 8 },
      errors: [{ code: 'IMAGE_NOT_FOUND', message: 'manifest unknown', at: AT, version: 8, workload: 'web' }],
      rejected: { version: 9, code: 'DESIRED_SCHEMA', reason: 'version: expected int', at: AT },
    });
    const parsed = ReportedState.parse(doc);
    expect(parsed.errors[0]?.code).toBe('IMAGE_NOT_FOUND');
    expect(parsed.rejected?.version).toBe(9);
  });

  it.each([
    ['unknown phase', { phase: 'done' }, 'phase'],
    ['unknown key', { uptime: 3 }, ''],
    ['missing rejected', { rejected: undefined }, 'rejected'],
    ['version 0 seen', { desired: { seenVersion: 0, appliedVersion: null, applyingVersion: null } }, 'desired.seenVersion'],
    ['too many errors', { errors: Array.from({ length: 21 }, () => ({ code: 'X_Y', message: 'm', at: AT })) }, 'errors'],
    ['lower-case error code', { errors: [{ code: 'oops', message: 'm', at: AT }] }, 'errors.0.code'],
    ['rejected without code', { rejected: { version: null, reason: 'r', at: AT } }, 'rejected.code'],
    [
      'unknown workload state',
      { workloads: { web: { state: 'crashed', reason: '', image: 'x', imageId: null, imageDigest: null, containerId: null, specHash: null } } },
      'workloads.web.state',
    ],
    [
      'workload status missing reason',
      { workloads: { web: { state: 'running', image: 'x', imageId: null, imageDigest: null, containerId: null, specHash: null } } },
      'workloads.web.reason',
    ],
  ])('rejects %s', (_label, overrides, path) => {
    const result = ReportedState.safeParse(reported(overrides));
    expect(result.success).toBe(false);
    expect(issuesOf(result)).toContain(path);
  });
});

describe('Presence', () => {
  it('accepts online and offline', () => {
    expect(Presence.parse(presence()).status).toBe('online');
    expect(Presence.parse(presence({ status: 'offline', agentVersion: '0.1.0', bootId: 'b' })).status).toBe('offline');
  });

  it.each([
    ['unknown status', { status: 'away' }, 'status'],
    ['epoch 0', { epoch: 0 }, 'epoch'],
    ['float epoch', { epoch: 1.5 }, 'epoch'],
    ['unsafe epoch', { epoch: 2 ** 53 }, 'epoch'],
    ['missing epoch', { epoch: undefined }, 'epoch'],
    ['wrong protocol', { protocol: 2 }, 'protocol'],
    ['unknown key', { ip: '10.0.0.1' }, ''],
  ])('rejects %s', (_label, overrides, path) => {
    const result = Presence.safeParse(presence(overrides));
    expect(result.success).toBe(false);
    expect(issuesOf(result)).toContain(path);
  });
});

describe('DeviceEvent', () => {
  it('accepts an event and applies defaults', () => {
    expect(DeviceEvent.parse(event())).toMatchObject({ version: null, workload: null, code: null, data: {} });
  });

  it('keeps optional fields', () => {
    const parsed = DeviceEvent.parse(event({ version: 3, workload: 'web', code: 'DESIRED_INVALID_JSON', data: { bytes: 12 } }));
    expect(parsed).toMatchObject({ version: 3, workload: 'web', code: 'DESIRED_INVALID_JSON', data: { bytes: 12 } });
  });

  it.each([
    ['unknown type', { type: 'desired.applied' }, 'type'],
    ['unknown level', { level: 'debug' }, 'level'],
    ['empty id', { id: '' }, 'id'],
    ['id too long', { id: 'x'.repeat(65) }, 'id'],
    ['float version', { version: 2.5 }, 'version'],
    ['bad workload', { workload: 'Web' }, 'workload'],
    ['wrong protocol', { protocol: 0 }, 'protocol'],
    ['unknown key', { severity: 3 }, ''],
  ])('rejects %s', (_label, overrides, path) => {
    const result = DeviceEvent.safeParse(event(overrides));
    expect(result.success).toBe(false);
    expect(issuesOf(result)).toContain(path);
  });
});
