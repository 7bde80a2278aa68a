import { describe, expect, it } from 'vitest';
import { admitDocument, type AgentPolicy } from '../../agent/policy/admit-document.js';
import { checkBindSource, viewHost } from '../../agent/policy/bind-sources.js';
import { DEFAULT_CAPABILITIES, grantCapabilities } from '../../agent/policy/capabilities.js';
import { devicePolicy, type DevicePolicyInput } from '../../agent/policy/device-policy.js';
import { checkVolumeName, volumeNamespace } from '../../agent/policy/volume-names.js';
import { DesiredState, type DesiredStateInput } from '../../shared/schemas/desired-state.js';
import { WorkloadSpec } from '../../shared/schemas/workload.js';
import { fakeHostFs } from '../helpers/fake-host-fs.js';

/** A Debian-like host: /var/run is a symlink to /run, and /srv/app is where workloads may bind from. */
const HOST = fakeHostFs({
  '/run/docker.sock': 'file',
  '/var/run': { link: '/run' },
  '/run/containerd/containerd.sock': 'file',
  '/var/lib/docker/volumes/v1/_data': 'dir',
  '/var/lib/outpost/desired.json': 'file',
  '/opt/outpost/device.secret': 'file',
  '/etc/passwd': 'file',
  '/home/alice': 'dir',
  '/dev/serial/by-id/usb-1': 'file',
  '/srv/custom/engine.sock': 'file',
  '/srv/custom-link': { link: '/srv/custom' },
  '/srv/app/data': 'dir',
  '/srv/app/inner': { link: 'data' },
  '/srv/app/escape': { link: '/home/alice' },
  '/srv/app/relative-escape': { link: '../../etc' },
  '/srv/app/sock': { link: '/var/run/docker.sock' },
  '/srv/app/run': { link: '/var/run' },
  '/srv/app/bound-run': { sameAs: '/run' },
  '/srv/app/linked.sock': { sameAs: '/run/docker.sock' },
  '/srv/app/docker-data': { sameAs: '/var/lib/docker' },
  '/srv/app/state': { link: '/var/lib/outpost' },
  '/srv/app/secret-copy': { sameAs: '/opt/outpost/device.secret' },
  '/srv/app/dangling': { link: '/etc/outpost-later.conf' },
  '/srv/app/loop-a': { link: 'loop-b' },
  '/srv/app/loop-b': { link: 'loop-a' },
});

const policyInput = (over: Partial<DevicePolicyInput> = {}): DevicePolicyInput => ({
  allowedHostPaths: ['/srv/app'],
  stateDir: '/var/lib/outpost',
  secretFiles: ['/opt/outpost/device.secret'],
  allowedCapabilities: ['NET_ADMIN'],
  allowedVolumes: ['shared-cache'],
  ...over,
});

function bind(source: string, over: Partial<DevicePolicyInput> = {}) {
  const policy = devicePolicy(policyInput(over));
  return checkBindSource(source, policy, viewHost(policy, HOST), HOST);
}

describe('bind sources (realpath, containment, device+inode)', () => {
  const allowed: [string, string, Partial<DevicePolicyInput>][] = [
    ['/srv/app/data', '/srv/app/data', {}],
    ['/srv/app/inner', '/srv/app/data', {}],
    ['/srv/app/not-yet/there', '/srv/app/not-yet/there', {}],
    ['/srv/app/data', '/srv/app/data', { allowedHostPaths: ['/'] }],
    ['/dev/serial/by-id/usb-1', '/dev/serial/by-id/usb-1', { allowedHostPaths: ['/dev/serial'] }],
    ['/var/run/docker.sock', '/run/docker.sock', { allowedHostPaths: ['/var/run/docker.sock'] }],
  ];
  it.each(allowed)('%s is mounted as %s (%j)', (source, resolved, over) => {
    expect(bind(source, over)).toEqual({ ok: true, source: resolved });
  });

  const refused: [string, RegExp, Partial<DevicePolicyInput>][] = [
    ['/srv/application', /outside the host paths this device allows \(\/srv\/app\)/, {}],
    ['/srv', /outside/, {}],
    ['/srv/app/data', /none configured/, { allowedHostPaths: [] }],
    ['/srv/app/escape', /\/srv\/app\/escape \(resolves to \/home\/alice\) is outside/, {}],
    ['/srv/app/relative-escape', /resolves to \/etc\) would expose the host configuration/, {}],
    ['/srv/app/sock', /resolves to \/run\/docker.sock\) would expose the container engine \(Docker socket\)/, {}],
    ['/run/docker.sock', /container engine/, {}],
    ['/var/run/docker.sock', /container engine/, { allowedHostPaths: ['/var/run'] }],
    ['/run', /container engine/, { allowedHostPaths: ['/'] }],
    ['/srv/app/run', /resolves to \/run\) would expose the container engine/, {}],
    ['/srv/app/bound-run', /bind mount of \/srv\/app\/bound-run would expose the container engine/, {}],
    ['/srv/app/linked.sock', /would expose the container engine \(Docker socket\)/, {}],
    ['/srv/app/docker-data/volumes/v1/_data', /container engine \(Docker data directory\)/, {}],
    ['/var/run/containerd/containerd.sock', /containerd socket/, { allowedHostPaths: ['/'] }],
    ['/srv/app/state', /the agent's state directory/, {}],
    ['/var/lib/outpost/locks/web', /the agent's (state|update-lock) director/, { allowedHostPaths: ['/var/lib'] }],
    ['/var/lib', /the agent's state directory|container engine/, { allowedHostPaths: ['/var'] }],
    ['/srv/app/secret-copy', /the agent's secret file/, {}],
    ['/srv/app/dangling', /resolves to \/etc\/outpost-later.conf\) would expose the host configuration/, {}],
    ['/srv/app/loop-a', /cannot be resolved on this device: ELOOP/, {}],
    ['/proc/1/root', /the host kernel/, { allowedHostPaths: ['/'] }],
    ['/', /would expose/, { allowedHostPaths: ['/'] }],
    ['/dev', /host devices/, { allowedHostPaths: ['/dev/serial'] }],
    ['/etc/passwd', /the host configuration/, { allowedHostPaths: ['/'] }],
    ['/srv/custom-link/engine.sock', /the Docker socket the agent uses/, { allowedHostPaths: ['/srv'], dockerSocket: '/srv/custom/engine.sock' }],
    ['/srv/custom', /the Docker socket the agent uses/, { allowedHostPaths: ['/srv'], dockerSocket: '/srv/custom/engine.sock' }],
  ];
  it.each(refused)('%s is refused: %s (%j)', (source, reason, over) => {
    const verdict = bind(source, over);
    expect(verdict.ok).toBe(false);
    expect(verdict.ok ? '' : verdict.reason).toMatch(reason);
  });
});

describe('named volumes (namespaced per app)', () => {
  const namespaces: [string, string | undefined, string][] = [
    ['kiosk-web', 'kiosk@1.0.0', 'kiosk'],
    ['my-app-web-ui', 'my-app@2', 'my-app'],
    ['my-app-web-ui', 'my@2', 'my'],
    ['kiosk-web', 'other@1.0.0', 'kiosk-web'],
    ['kiosk-web', undefined, 'kiosk-web'],
    ['web', 'Bad_App@1', 'web'],
  ];
  it.each(namespaces)('workload %s with release %s → namespace %s', (workload, release, expected) => {
    expect(volumeNamespace(workload, release === undefined ? undefined : { release })).toBe(expected);
  });

  const policy = devicePolicy(policyInput());
  it.each([
    ['data', 'kiosk', { ok: true, dockerName: 'outpost.kiosk.data', namespace: 'kiosk' }],
    ['shared-cache', 'kiosk', { ok: true, dockerName: 'shared-cache', namespace: null }],
  ] as const)('%s in %s', (name, namespace, expected) => {
    expect(checkVolumeName(name, namespace, policy)).toEqual(expected);
  });
  it.each(['outpost.other.data', 'outpost_agent-state', 'Outpost-state'])('%s looks like another app\'s or the agent\'s: refused', (name) => {
    const v = checkVolumeName(name, 'kiosk', policy);
    expect(v.ok ? '' : v.reason).toMatch(/reserved/);
  });
  it('an allowlisted namespaced name is the operator sharing one app\'s volume', () => {
    const sharing = devicePolicy(policyInput({ allowedVolumes: ['outpost.kiosk.data'] }));
    expect(checkVolumeName('outpost.kiosk.data', 'reports', sharing)).toMatchObject({ ok: true, dockerName: 'outpost.kiosk.data' });
  });
});

describe('capabilities', () => {
  const policy = devicePolicy(policyInput());
  it('grants the default set plus allowed requests, sorted', () => {
    expect(grantCapabilities(undefined, policy)).toEqual({ ok: true, capAdd: [...DEFAULT_CAPABILITIES].sort() });
    expect(grantCapabilities(['NET_ADMIN', 'CHOWN'], policy)).toEqual({ ok: true, capAdd: [...DEFAULT_CAPABILITIES, 'NET_ADMIN'].sort() });
  });
  it('refuses what the device did not allow, naming what it allows', () => {
    const v = grantCapabilities(['SYS_ADMIN', 'NET_RAW', 'NET_ADMIN'], policy);
    expect(v.ok ? '' : v.reason).toMatch(/SYS_ADMIN, NET_RAW are not allowed on this device \(allowed beyond the default set: NET_ADMIN/);
  });
  it('the default set leaves out what Docker grants but workloads rarely need', () => {
    for (const cap of ['NET_RAW', 'MKNOD', 'SETFCAP', 'SETPCAP', 'SYS_CHROOT', 'AUDIT_WRITE', 'SYS_ADMIN']) expect(DEFAULT_CAPABILITIES).not.toContain(cap);
  });
  it.each(['CAP_NET_ADMIN', 'ALL', 'net_admin', ''])('the schema refuses the capability name %j', (cap) => {
    expect(WorkloadSpec.safeParse({ image: 'busybox', capabilities: [cap] }).success).toBe(false);
  });
});

describe('admitDocument', () => {
  const agentPolicy: AgentPolicy = { rules: devicePolicy(policyInput()), fs: HOST };
  const doc = (workloads: DesiredStateInput['workloads'], provenance: DesiredStateInput['provenance'] = {}) =>
    DesiredState.parse({ protocol: 1, deviceId: 'kiosk-a', version: 3, issuedAt: '2026-11-23T10:00:00Z', workloads, provenance });

  it('grants resolved binds, namespaced volumes and capabilities', () => {
    const admitted = admitDocument(
      doc(
        {
          'kiosk-web': {
            image: 'busybox:1',
            capabilities: ['NET_ADMIN'],
            volumes: [
              { type: 'bind', source: '/srv/app/inner', target: '/data', readOnly: true },
              { type: 'volume', name: 'db', target: '/db' },
              { type: 'tmpfs', target: '/tmp' },
            ],
          },
        },
        { 'kiosk-web': { release: 'kiosk@1.0.0' } },
      ),
      agentPolicy,
    );
    expect(admitted.ok && admitted.grants.get('kiosk-web')).toEqual({
      mounts: [
        { type: 'bind', source: '/srv/app/data', target: '/data', readOnly: true },
        { type: 'volume', requested: 'db', name: 'outpost.kiosk.db', namespace: 'kiosk', target: '/db', readOnly: false },
        { type: 'tmpfs', target: '/tmp' },
      ],
      capAdd: [...DEFAULT_CAPABILITIES, 'NET_ADMIN'].sort(),
    });
  });

  it('lists every violation of every workload', () => {
    const admitted = admitDocument(
      doc({
        a: { image: 'busybox:1', volumes: [{ type: 'bind', source: '/srv/app/escape', target: '/x' }], capabilities: ['SYS_ADMIN'] },
        b: { image: 'busybox:1', volumes: [{ type: 'volume', name: 'outpost.kiosk.db', target: '/db' }] },
        c: { image: 'busybox:1' },
      }),
      agentPolicy,
    );
    expect(admitted.ok).toBe(false);
    const reason = admitted.ok ? '' : admitted.reason;
    expect(reason).toMatch(/workload a: bind mount source \/srv\/app\/escape .* outside/);
    expect(reason).toMatch(/workload a: capabilities SYS_ADMIN/);
    expect(reason).toMatch(/workload b: named volume outpost.kiosk.db is refused/);
    expect(reason).not.toMatch(/workload c/);
  });
});
