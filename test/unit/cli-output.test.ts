import { describe, expect, it } from 'vitest';
import { parseEnvChanges, parseLabelChanges, deviceWorkload } from '../../cli/commands/args.js';
import { describeError } from '../../cli/commands/command-context.js';
import { ApiClientError } from '../../cli/client/api-client.js';
import type { DeploymentBody, DeploymentDetailBody, DeviceDetailBody } from '../../cli/client/responses.js';
import { deploymentWarnings } from '../../cli/output/deployment-view.js';
import { renderDeviceDetail, renderDeviceList } from '../../cli/output/device-view.js';
import { formatAgo, formatDuration, formatLabels, formatList, formatTarget } from '../../cli/output/format.js';
import { renderFields, renderTable, visibleWidth } from '../../cli/output/table.js';
import { ReleaseFileError } from '../../cli/release-file.js';

const now = new Date('2026-03-01T12:00:00.000Z');
const ago = (ms: number): string => new Date(now.getTime() - ms).toISOString();

describe('renderTable', () => {
  it('pads every column to its widest cell, two spaces apart, without trailing blanks', () => {
    const out = renderTable(['ID', 'PHASE', 'LABELS'], [
      ['kiosk-a', 'converged', 'role=kiosk'],
      ['s', 'unknown', ''],
    ]);
    expect(out.split('\n')).toEqual([
      'ID       PHASE      LABELS',
      'kiosk-a  converged  role=kiosk',
      's        unknown',
    ]);
  });

  it('right-aligns where asked', () => {
    expect(renderTable(['APP', 'N'], [['a', '5'], ['b', '120']], { align: ['left', 'right'] })).toBe('APP    N\na      5\nb    120');
  });

  it('writes no escape codes without colour, and the same layout with colour', () => {
    const rows = [['a', { text: 'yes', style: 'green' as const }], ['bb', { text: 'no', style: 'red' as const }]];
    const plain = renderTable(['X', 'ONLINE'], rows);
    expect(plain).not.toMatch(/\u001b/);
    const colored = renderTable(['X', 'ONLINE'], rows, { color: true });
    expect(colored).toMatch(/\u001b\[32myes\u001b\[39m/);
    expect(colored.replace(/\u001b\[[0-9;]*m/g, '')).toBe(plain);
  });

  it('keeps a row on one line and a header without rows', () => {
    expect(renderTable(['A', 'B'], [['x\ny', 'z']])).toBe('A    B\nx y  z');
    expect(renderTable(['A', 'B'], [])).toBe('A  B');
  });

  it('measures width without escape codes', () => {
    expect(visibleWidth('\u001b[1mabc\u001b[22m')).toBe(3);
  });

  it('aligns fields', () => {
    expect(renderFields([['Device', 'k-a'], ['In sync', 'yes']])).toBe('Device   k-a\nIn sync  yes');
  });
});

describe('formatters', () => {
  it.each([
    [null, 'never'],
    [ago(300), 'just now'],
    [ago(42_000), '42s ago'],
    [ago(3 * 60_000 + 5_000), '3m ago'],
    [ago(2 * 3_600_000), '2h ago'],
    [ago(5 * 86_400_000), '5d ago'],
    [ago(-60_000), 'in 1m'],
  ])('formatAgo(%j) = %s', (iso, text) => {
    expect(formatAgo(iso, now)).toBe(text);
  });

  it('formats durations, labels, lists and targets', () => {
    expect(formatDuration(90_000)).toBe('1m');
    expect(formatDuration(250)).toBe('250ms');
    expect(formatLabels({ site: 'a', role: 'kiosk' })).toBe('role=kiosk,site=a');
    expect(formatLabels({})).toBe('-');
    expect(formatList(['a', 'b', 'c'], 2)).toBe('a, b and 1 more');
    expect(formatList([])).toBe('-');
    expect(formatTarget({ kind: 'selector', selector: 'role=kiosk' })).toBe('role=kiosk');
    expect(formatTarget({ kind: 'devices', devices: ['a', 'b'] })).toBe('devices: a, b');
  });
});

describe('device views', () => {
  const summary = {
    id: 'kiosk-a',
    labels: { role: 'kiosk' },
    createdAt: ago(86_400_000),
    online: true,
    lastSeen: ago(5_000),
    phase: 'converged',
    desiredVersion: 3,
    appliedVersion: 3,
    inSync: true,
  };

  it('lists devices with the documented columns', () => {
    const out = renderDeviceList([summary, { ...summary, id: 'b', online: false, lastSeen: null, phase: 'unknown', desiredVersion: 1, appliedVersion: null, inSync: false, labels: {} }], { now, color: false });
    expect(out.split('\n')).toEqual([
      'ID       ONLINE  PHASE      DESIRED  APPLIED  IN SYNC  LAST SEEN  LABELS',
      'kiosk-a  yes     converged  v3       v3       yes      5s ago     role=kiosk',
      'b        no      unknown    v1       -        no       never      -',
    ]);
    expect(renderDeviceList([], { now, color: false })).toBe('No devices.');
  });

  it('shows overrides, apps, workloads and errors', () => {
    const detail: DeviceDetailBody = {
      ...summary,
      appliedVersion: 2,
      inSync: false,
      phase: 'failed',
      overrides: { env: { MODE: 'x' }, workloadEnv: { 'kiosk-web': { GREETING: 'hi' } }, pins: { kiosk: '1.0.0' } },
      apps: [{ app: 'kiosk', deploymentId: 'd-2', version: '1.0.0', source: 'pin', shadowed: ['d-1'] }],
      problems: [],
      desired: { version: 3, issuedAt: ago(60_000), workloads: { 'kiosk-web': { image: 'nginx:1' } }, provenance: { 'kiosk-web': { release: 'kiosk@1.0.0' } } },
      reported: {
        reportedAt: ago(1_000),
        phase: 'failed',
        desired: { seenVersion: 3, appliedVersion: 2, applyingVersion: 3 },
        workloads: { 'kiosk-web': { state: 'failed', reason: 'pull failed', image: 'nginx:1' } },
        errors: [{ code: 'IMAGE_PULL_FAILED', message: 'no such image', at: ago(2_000), workload: 'kiosk-web' }],
        rejected: null,
      },
      presence: null,
    };
    const out = renderDeviceDetail(detail, { now, color: false });
    expect(out).toContain('Applied  v2 (applying v3)');
    expect(out).toContain('env of kiosk-web  GREETING=hi');
    expect(out).toContain('pins              kiosk@1.0.0');
    expect(out).toMatch(/kiosk\s+1\.0\.0\s+d-2\s+pin\s+d-1/);
    expect(out).toMatch(/kiosk-web\s+kiosk@1\.0\.0\s+nginx:1\s+failed\s+pull failed/);
    expect(out).toMatch(/2s ago\s+IMAGE_PULL_FAILED\s+kiosk-web\s+no such image/);
    expect(out).not.toContain('Clock');
  });

  it.each([
    [3_600_000, 'Clock    60 min 0 s ahead of the controller, measured 2m ago'],
    [-90_500, 'Clock    1 min 31 s behind the controller, measured 2m ago'],
    [-4_200, 'Clock    4.2 s behind the controller, measured 2m ago'],
    [300, 'Clock    in step with the controller (0.3 s), measured 2m ago'],
  ])('shows a skew of %i ms as the agent measured it (DD-052)', (skewMs, line) => {
    const detail: DeviceDetailBody = {
      ...summary,
      overrides: { env: {}, workloadEnv: {}, pins: {} },
      apps: [],
      problems: [],
      desired: null,
      reported: {
        reportedAt: ago(1_000),
        phase: 'converged',
        desired: { seenVersion: 3, appliedVersion: 3, applyingVersion: null },
        workloads: {},
        errors: [],
        rejected: null,
        clock: { skewMs, rttMs: 12, measuredAt: ago(120_000) },
      },
      presence: null,
    };
    expect(renderDeviceDetail(detail, { now, color: false }).split('\n')).toContain(line);
  });
});

describe('command arguments', () => {
  it('parses label changes: key=value sets, key- and --remove remove', () => {
    expect(parseLabelChanges(['site=b', 'tier-'], ['canary'])).toEqual({ set: { site: 'b' }, remove: ['canary', 'tier'] });
    expect(() => parseLabelChanges([])).toThrow(/nothing to change/);
    expect(() => parseLabelChanges(['site'])).toThrow(/key=value to set a label or key- to remove/);
    expect(() => parseLabelChanges(['a=1', 'a-'])).toThrow(/both set and removed/);
  });

  it('parses env overrides and workload names', () => {
    expect(parseEnvChanges(['A=1', 'B=x=y'], ['C'])).toEqual({ A: '1', B: 'x=y', C: null });
    expect(() => parseEnvChanges(['A'])).toThrow(/KEY=VALUE/);
    expect(deviceWorkload('kiosk/web')).toBe('kiosk-web');
    expect(deviceWorkload('kiosk-web')).toBe('kiosk-web');
  });

  it.each([
    [new ApiClientError('UNAUTHORIZED', 401, 'missing or invalid bearer token'), false, 'missing or invalid bearer token (no token given: set OUTPOST_TOKEN or --token-file; `outpost up` writes one to .outpost/admin-token) (UNAUTHORIZED)', 1],
    [new ApiClientError('DEVICE_NOT_FOUND', 404, 'device x not found'), true, 'device x not found (DEVICE_NOT_FOUND)', 1],
    [new ReleaseFileError(['app: required'], 'r.yaml'), true, 'invalid r.yaml: app: required (RELEASE_FILE_INVALID)', 2],
    [new Error('boom'), true, 'boom (UNEXPECTED)', 1],
  ])('error %# becomes one line and an exit code', (err, tokenGiven, line, exitCode) => {
    expect(describeError(err, tokenGiven)).toEqual({ line, exitCode });
  });
});

describe('deployment warnings (issue 12)', () => {
  const base = {
    id: 'dep-1',
    app: 'kiosk',
    version: '1.0.2',
    priority: 0,
    target: { kind: 'selector' as const, selector: 'role=kiosk' },
    createdAt: '2026-11-30T12:00:00.000Z',
    targeted: ['a', 'b'],
    applied: [] as string[],
    shadowed: ['a', 'b'],
    pinned: [] as string[],
    running: [] as string[],
  };
  const rollout = { id: 'rollout-r1', app: 'kiosk', version: '1.0.1', priority: 1_000_000, target: { kind: 'selector' as const, selector: 'role=kiosk' }, createdAt: base.createdAt };

  it('a deployment every targeted device ignores names who wins and how to change it', () => {
    const other = { ...rollout, id: 'other-app', app: 'sensor', priority: 5 };
    expect(deploymentWarnings(base as DeploymentDetailBody, [rollout, other] as DeploymentBody[])).toEqual([
      'every targeted device (2) keeps kiosk from a deployment of higher priority: rollout-r1 (kiosk@1.0.1, priority 1000000). Deploy with --priority 1000001, or remove it: `outpost deployment rm rollout-r1`',
    ]);
  });

  it('a selector that matches nothing says so; a deployment that applies somewhere says nothing', () => {
    expect(deploymentWarnings({ ...base, targeted: [], shadowed: [] } as DeploymentDetailBody, [])).toEqual([
      'the selector "role=kiosk" matches no device; check the labels with `outpost device ls --selector "role=kiosk"`',
    ]);
    expect(deploymentWarnings({ ...base, applied: ['b'], shadowed: ['a'] } as DeploymentDetailBody, [rollout] as DeploymentBody[])).toEqual([]);
  });
});
