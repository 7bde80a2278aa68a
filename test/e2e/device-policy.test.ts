import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import { DEFAULT_CAPABILITIES } from '../../agent/policy/capabilities.js';
import type { DesiredStateInput } from '../../shared/schemas/desired-state.js';
import type { DeviceEvent } from '../../shared/schemas/event.js';
import type { WorkloadSpecInput } from '../../shared/schemas/workload.js';
import { startAedesFixture, type BrokerFixture } from '../helpers/brokers.js';
import { execIn, execStatus, RELEASE_UPDATE_LOCK, TAKE_UPDATE_LOCK } from '../helpers/container-exec.js';
import { containerCreates, deviceContainers, expectedHash } from '../helpers/device-containers.js';
import { createDeviceRig, type DeviceRig } from '../helpers/device-rig.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { TEST_IMAGE } from '../helpers/images.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { connectTestController, desiredDoc, type TestController } from '../helpers/test-controller.js';
import { waitFor } from '../helpers/wait-for.js';

const docker = new Docker();
/** Host paths that expose the Docker engine on this machine (/var/run is a symlink to /run). */
const ENGINE_PATHS = ['/run', '/var/run', '/run/docker.sock', '/var/run/docker.sock'];

/**
 * DD-024: the device defends itself. Its own policy (agent flags) is checked
 * at receipt, again for the cached document at start, and again before every
 * reconcile pass and container create, on the real filesystem: a symlink
 * out of an allowed root, the Docker socket by another name, the agent's own
 * state and another app's named volume are refused however they arrive.
 */
describe('the device policy', () => {
  let broker: BrokerFixture;
  let controller: TestController;
  const rigs: DeviceRig[] = [];
  const dirs: TempDir[] = [];
  const volumes: string[] = [];
  dumpOnFailure((): Record<string, string> => Object.fromEntries(rigs.flatMap((r) => (r.agent ? [[`agent ${r.deviceId}`, r.agent.output()]] : []))));

  beforeAll(async () => {
    broker = await startAedesFixture();
    controller = await connectTestController(broker.url, broker.serviceAuth);
  });

  afterEach(async () => {
    for (const rig of rigs.splice(0)) await rig.dispose();
    for (const name of volumes.splice(0)) await docker.getVolume(name).remove().catch(() => undefined);
    for (const dir of dirs.splice(0)) await dir.remove();
  });

  afterAll(async () => {
    await controller?.close();
    await broker?.stop();
  });

  /** A device whose agent may bind from `root` only; `root/data` is a plain directory. */
  async function device(prefix: string, extraArgs: string[] = []): Promise<{ rig: DeviceRig; root: string; outside: string; args: string[] }> {
    const root = await makeTempDir(`${prefix}-root`);
    const outside = await makeTempDir(`${prefix}-outside`);
    dirs.push(root, outside);
    await mkdir(join(root.path, 'data'));
    const rig = await createDeviceRig(broker, controller, prefix);
    rigs.push(rig);
    // Every step as its own event: the tests follow steps as they happen.
    const args = ['--allow-host-path', root.path, '--lock-poll-ms', '300', '--event-detail', 'steps', ...extraArgs];
    await rig.startAgent({ extraArgs: args });
    return { rig, root: root.path, outside: outside.path, args };
  }

  const runningState = async (deviceId: string) => (await deviceContainers(deviceId)).map((c) => [c.id, c.state, c.startedAt]);

  /** Nothing the device runs (or keeps stopped) mounts the engine. */
  async function expectNoEngineMount(deviceId: string): Promise<void> {
    for (const c of await deviceContainers(deviceId)) {
      const info = await docker.getContainer(c.id).inspect();
      const sources = (info.Mounts ?? []).map((m) => m.Source);
      expect(sources.filter((s) => ENGINE_PATHS.includes(s ?? '')), c.name).toEqual([]);
    }
  }

  describe('at receipt', () => {
    let rig: DeviceRig;
    let root: string;
    let outside: string;
    let version = 1;
    let kept: TempDir[] = [];

    beforeAll(async () => {
      ({ rig, root, outside } = await device('polrx'));
      // The shared afterEach would dispose of the device after the first case: this block keeps it to the end.
      rigs.splice(rigs.indexOf(rig), 1);
      kept = dirs.splice(-2);
      await rig.publish(1, { web: { image: TEST_IMAGE } });
      await rig.converged(1);
      await symlink(outside, join(root, 'escape'));
      await symlink('/var/run/docker.sock', join(root, 'engine.sock'));
      await symlink('/var/run', join(root, 'run'));
      await symlink(rig.stateDir.path, join(root, 'state'));
    });
    afterAll(async () => {
      await rig?.dispose();
      for (const dir of kept) await dir.remove();
    });

    const bind = (source: string): WorkloadSpecInput => ({ image: TEST_IMAGE, volumes: [{ type: 'bind', source, target: '/mnt' }] });
    const cases: { name: string; spec: () => WorkloadSpecInput; reason: RegExp }[] = [
      { name: 'a symlink inside the allowed root pointing out of it', spec: () => bind(join(root, 'escape')), reason: /resolves to .*-outside-.*\) is outside the host paths this device allows/ },
      { name: 'the Docker socket through a symlink', spec: () => bind(join(root, 'engine.sock')), reason: /resolves to \/run\/docker.sock\) would expose the container engine \(Docker socket\)/ },
      { name: 'the Docker socket by its other name', spec: () => bind('/run/docker.sock'), reason: /bind mount of \/run\/docker.sock would expose the container engine/ },
      { name: "the socket's directory through a symlink", spec: () => bind(join(root, 'run')), reason: /resolves to \/run\) would expose the container engine/ },
      { name: "the agent's state directory through a symlink", spec: () => bind(join(root, 'state')), reason: /would expose the agent's state directory/ },
      { name: "the agent's state directory by name", spec: () => bind(rig.stateDir.path), reason: /would expose the agent's state directory/ },
      {
        name: "another app's named volume",
        spec: () => ({ image: TEST_IMAGE, volumes: [{ type: 'volume', name: 'outpost.other-app.data', target: '/data' }] }),
        reason: /named volume outpost.other-app.data is refused: names starting with "outpost" are reserved/,
      },
      { name: 'a capability the device does not allow', spec: () => ({ image: TEST_IMAGE, capabilities: ['SYS_ADMIN'] }), reason: /capabilities SYS_ADMIN are not allowed on this device/ },
    ];

    it.each(cases)('$name → DESIRED_POLICY, the previous workload keeps running', async ({ spec, reason }) => {
      const before = await runningState(rig.deviceId);
      version++;
      await rig.publish(version, { web: spec() });
      const event = await rig.watch.waitForEvent((e) => e.type === 'desired.rejected' && e.version === version, 20_000, `desired.rejected v${version}`);
      expect(event.code).toBe('DESIRED_POLICY');
      expect(event.message).toMatch(reason);
      const report = await rig.watch.waitForReport((r) => r.rejected?.version === version, 20_000, `rejected v${version}`);
      expect(report).toMatchObject({ phase: 'failed', desired: { appliedVersion: 1 }, rejected: { code: 'DESIRED_POLICY' } });
      expect(report.rejected?.reason).toMatch(reason);
      expect(await runningState(rig.deviceId)).toEqual(before);
      await expectNoEngineMount(rig.deviceId);
    });
  });

  /** What someone swaps the allowed `root/data` directory for, and how the device says no. */
  interface Swap {
    kind: string;
    target: (d: { outside: string; stateDir: string }) => string;
    reason: RegExp;
  }
  const SWAPS: Swap[] = [
    { kind: 'a symlink escaping the allowed root', target: (d) => d.outside, reason: /data \(resolves to .*-outside-.*\) is outside the host paths this device allows/ },
    { kind: 'a symlink to the Docker socket', target: () => '/var/run/docker.sock', reason: /data \(resolves to \/run\/docker.sock\) would expose the container engine \(Docker socket\)/ },
    { kind: "a symlink to the agent's state directory", target: (d) => d.stateDir, reason: /data \(resolves to .*\) would expose the agent's state directory/ },
  ];

  async function swapData(root: string, to: string): Promise<void> {
    await rm(join(root, 'data'), { recursive: true });
    await symlink(to, join(root, 'data'));
  }

  interface CacheCase {
    change: string;
    /** v2's workload, accepted at receipt under the first agent's flags. */
    workload: (root: string) => WorkloadSpecInput;
    firstArgs?: string[];
    /** Changes the host or the flags while the agent is down; returns the flags for the restart. */
    meanwhile: (d: { root: string; outside: string; stateDir: string; args: string[] }) => Promise<string[]>;
    reason: RegExp;
  }
  const bindData = (root: string): WorkloadSpecInput => ({ image: TEST_IMAGE, env: { V: '2' }, volumes: [{ type: 'bind', source: join(root, 'data'), target: '/data' }] });
  const CACHE_CASES: CacheCase[] = [
    ...SWAPS.map(
      (swap): CacheCase => ({
        change: `its bind source became ${swap.kind}`,
        workload: bindData,
        meanwhile: async (d) => {
          await swapData(d.root, swap.target(d));
          return d.args;
        },
        reason: swap.reason,
      }),
    ),
    {
      change: 'the agent restarted with a narrower --allow-host-path',
      workload: bindData,
      meanwhile: async (d) => d.args.map((a) => (a === d.root ? join(d.root, 'elsewhere') : a)),
      reason: /is outside the host paths this device allows/,
    },
    {
      change: "the agent restarted without allowing another app's volume",
      workload: () => ({ image: TEST_IMAGE, env: { V: '2' }, volumes: [{ type: 'volume', name: 'outpost.other-app.data', target: '/data' }] }),
      firstArgs: ['--allow-volume', 'outpost.other-app.data'],
      meanwhile: async (d) => d.args.filter((a) => a !== '--allow-volume' && a !== 'outpost.other-app.data'),
      reason: /named volume outpost.other-app.data is refused/,
    },
  ];

  it.each(CACHE_CASES)('from the cache at start: a document accepted at receipt is not applied once $change', async ({ workload, firstArgs, meanwhile, reason }) => {
    const { rig, root, outside, args } = await device('polcache', firstArgs);
    await rig.publish(1, { web: { image: TEST_IMAGE } });
    await rig.converged(1);
    const [v1] = await deviceContainers(rig.deviceId);
    // Version 2 passes the policy and waits for its start time: it is in the agent's cache, not applied.
    const v2: DesiredStateInput = { ...desiredDoc(rig.deviceId, 2, { web: workload(root) }), apply: { after: new Date(Date.now() + 3600_000).toISOString() } };
    await controller.publishDesired(rig.deviceId, v2);
    await rig.watch.waitForReport((r) => r.phase === 'deferred' && r.deferred?.version === 2, 30_000, 'v2 accepted and deferred');

    await rig.stopAgent();
    const restartArgs = await meanwhile({ root, outside, stateDir: rig.stateDir.path, args });
    const restartedAt = Date.now() / 1000;
    const seen = rig.watch.events.length;
    const eventAfterRestart = (predicate: (e: DeviceEvent) => boolean, description: string) =>
      waitFor(() => rig.watch.events.slice(seen).find(predicate), { timeoutMs: 20_000, description });
    await rig.startAgent({ extraArgs: restartArgs });

    const event = await eventAfterRestart((e) => e.type === 'desired.rejected' && e.version === 2 && e.data.source === 'cache', 'cache refused');
    expect(event.code).toBe('DESIRED_POLICY');
    expect(event.message).toMatch(/cached version 2 is refused by the device policy now/);
    expect(event.message).toMatch(reason);
    const report = await rig.watch.waitForReport((r) => r.rejected?.version === 2 && r.phase === 'failed', 20_000, 'reported');
    expect(report).toMatchObject({ desired: { seenVersion: 2, appliedVersion: 1 }, rejected: { code: 'DESIRED_POLICY' } });
    // The applied version is kept (and resynced): the same container runs, nothing was created.
    await eventAfterRestart((e) => e.type === 'desired.ignored' && e.version === 2, 'retained v2 ignored as the version held');
    expect(await deviceContainers(rig.deviceId)).toEqual([expect.objectContaining({ id: v1?.id, state: 'running' })]);
    expect(await containerCreates(rig.deviceId, restartedAt)).toEqual([]);
    await expectNoEngineMount(rig.deviceId);
  });

  it.each(SWAPS)('before create: a bind source swapped for $kind while the update waits is refused before anything changes', async ({ target, reason }) => {
    const { rig, root, outside } = await device('poldefer');
    await rig.publish(1, { web: { image: TEST_IMAGE, stopTimeoutSeconds: 2 } });
    await rig.converged(1);
    const [v1] = await deviceContainers(rig.deviceId);
    await execIn(v1?.id ?? '', TAKE_UPDATE_LOCK);
    const publishedAt = Date.now() / 1000;
    await rig.publish(2, { web: { ...bindData(root), stopTimeoutSeconds: 2 } });
    await rig.watch.waitForReport((r) => r.phase === 'deferred' && r.deferred?.reason === 'locked', 30_000, 'v2 accepted, deferred by the lock');

    await swapData(root, target({ outside, stateDir: rig.stateDir.path }));
    await execIn(v1?.id ?? '', RELEASE_UPDATE_LOCK);

    const failed = await rig.watch.waitForEvent((e) => e.type === 'reconcile.failed' && e.version === 2, 30_000, 'v2 refused');
    expect(failed.code).toBe('CONTAINER_CREATE_REFUSED');
    expect(failed.message).toMatch(/version 2 is refused by the device policy now/);
    expect(failed.message).toMatch(reason);
    const report = await rig.watch.waitForReport((r) => r.errors.some((e) => e.code === 'CONTAINER_CREATE_REFUSED'), 20_000, 'failure reported');
    expect(report).toMatchObject({ phase: 'failed', desired: { appliedVersion: 1 } });
    expect(await deviceContainers(rig.deviceId)).toEqual([expect.objectContaining({ id: v1?.id, state: 'running' })]);
    expect(await containerCreates(rig.deviceId, publishedAt)).toEqual([]);
    await expectNoEngineMount(rig.deviceId);
  });

  it('before create: a bind source swapped while the old container stops is refused by the create step itself; fixing the host lets it converge', async () => {
    const { rig, root } = await device('polcreate');
    // PID 1 ignores SIGTERM: stopping it takes stopTimeoutSeconds, the window in which the host changes.
    await rig.publish(1, { web: { image: TEST_IMAGE, command: ['sh', '-c', 'trap "" TERM; while :; do sleep 1; done'], stopTimeoutSeconds: 8 } });
    await rig.converged(1);
    const publishedAt = Date.now() / 1000;
    const v2: WorkloadSpecInput = { image: TEST_IMAGE, env: { V: '2' }, stopTimeoutSeconds: 2, volumes: [{ type: 'bind', source: join(root, 'data'), target: '/data' }] };
    await rig.publish(2, { web: v2 });
    await rig.watch.waitForEvent((e) => e.type === 'step.started' && e.version === 2 && e.data.step === 'stop', 30_000, 'v2 stopping v1');
    await rm(join(root, 'data'), { recursive: true });
    await symlink('/var/run', join(root, 'data'));

    const refused = await rig.watch.waitForEvent((e) => e.type === 'step.failed' && e.version === 2 && e.data.step === 'create', 30_000, 'create refused');
    expect(refused.code).toBe('CONTAINER_CREATE_REFUSED');
    expect(refused.message).toMatch(/create refused by the device policy: workload web: bind mount of .*\/data \(resolves to \/run\) would expose the container engine/);
    expect((await containerCreates(rig.deviceId, publishedAt)).filter((c) => c.specHash === expectedHash(v2))).toEqual([]);
    await expectNoEngineMount(rig.deviceId);

    // Level-based: the failed pass is retried; once the host is fixed the same version converges.
    await rm(join(root, 'data'));
    await mkdir(join(root, 'data'));
    await rig.converged(2, 60_000);
    const [web] = await deviceContainers(rig.deviceId);
    const info = await docker.getContainer(web?.id ?? '').inspect();
    expect(info.Mounts.filter((m) => m.Destination === '/data').map((m) => m.Source)).toEqual([join(root, 'data')]);
  });

  it('a named volume from before namespacing is not left behind: refused until the device allows its old name', async () => {
    const legacy = `pre${randomBytes(4).toString('hex')}`;
    await docker.createVolume({ Name: legacy });
    volumes.push(legacy, `outpost.web.${legacy}`);
    const { rig, args } = await device('polmig');
    await rig.publish(1, { web: { image: TEST_IMAGE, volumes: [{ type: 'volume', name: legacy, target: '/data' }] } });
    const failed = await rig.watch.waitForEvent((e) => e.type === 'reconcile.failed' && e.version === 1, 30_000, 'refused');
    expect(failed.code).toBe('CONTAINER_CREATE_REFUSED');
    expect(failed.message).toMatch(new RegExp(`named volume ${legacy} exists from before volume namespacing; this agent would mount outpost.web.${legacy}`));
    expect(await deviceContainers(rig.deviceId)).toEqual([]);

    await rig.stopAgent();
    await rig.startAgent({ extraArgs: [...args, '--allow-volume', legacy] });
    await rig.converged(1);
    const [web] = await deviceContainers(rig.deviceId);
    const info = await docker.getContainer(web?.id ?? '').inspect();
    expect(info.Mounts.filter((m) => m.Destination === '/data').map((m) => m.Name)).toEqual([legacy]);
  });

  it('containers run with no-new-privileges, a minimal capability set, granted capabilities and namespaced volumes', async () => {
    const { rig, root } = await device('polcaps', ['--allow-capability', 'NET_ADMIN']);
    await symlink('data', join(root, 'inner'));
    const app = `pol${randomBytes(3).toString('hex')}`;
    const workload = `${app}-web`;
    volumes.push(`outpost.${app}.state`);
    await controller.publishDesired(rig.deviceId, {
      ...desiredDoc(rig.deviceId, 1, {
        [workload]: {
          image: TEST_IMAGE,
          command: ['sh', '-c', 'echo ok > /tmp/index.html; exec httpd -f -p 8080 -h /tmp'],
          capabilities: ['NET_ADMIN'],
          volumes: [
            { type: 'volume', name: 'state', target: '/state' },
            { type: 'bind', source: join(root, 'inner'), target: '/host', readOnly: true },
          ],
          health: { type: 'http', port: 8080, intervalSeconds: 1 },
        },
      }),
      provenance: { [workload]: { release: `${app}@1.0.0` } },
    });
    await rig.converged(1);
    const [c] = await deviceContainers(rig.deviceId);
    const info = await docker.getContainer(c?.id ?? '').inspect();
    expect(info.HostConfig.SecurityOpt).toEqual(['no-new-privileges:true']);
    expect(info.HostConfig.CapDrop).toEqual(['ALL']);
    expect([...(info.HostConfig.CapAdd ?? [])].sort()).toEqual([...DEFAULT_CAPABILITIES, 'NET_ADMIN'].sort());
    expect(info.HostConfig.Privileged).toBe(false);
    const mounts = Object.fromEntries(info.Mounts.map((m) => [m.Destination, m]));
    expect(mounts['/state']).toMatchObject({ Type: 'volume', Name: `outpost.${app}.state` });
    expect(mounts['/host']).toMatchObject({ Type: 'bind', Source: join(root, 'data'), RW: false });
    const volume = await docker.getVolume(`outpost.${app}.state`).inspect();
    expect(volume.Labels).toMatchObject({ 'io.outpost.managed': 'true', 'io.outpost.volume-namespace': app });
    // Inside: the kernel enforces it, and httpd still serves.
    expect(await execStatus(c?.id ?? '', 'grep -q "^NoNewPrivs:[[:space:]]*1" /proc/self/status')).toBe(0);
    expect(await execStatus(c?.id ?? '', 'wget -q -O- http://127.0.0.1:8080/ | grep -q ok')).toBe(0);
  });
});
