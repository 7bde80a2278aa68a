import Docker from 'dockerode';
import { afterAll, describe, expect, it } from 'vitest';
import { checkHistory } from '../../bench/chaos/checker.js';
import { ApiClient } from '../../cli/client/api-client.js';
import { startAgent } from '../helpers/agent-process.js';
import { startBrokerRig, startControllerProcess, type BrokerRig, type ControllerProcess } from '../helpers/controller-process.js';
import { containerCreates, deviceContainers } from '../helpers/device-containers.js';
import { removeDeviceContainers } from '../helpers/docker.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { fakeTimeFrom, lastLogTime, logTimes } from '../helpers/faketime.js';
import { TEST_IMAGE, TEST_IMAGE_2 } from '../helpers/images.js';
import type { ManagedProcess } from '../helpers/process.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { connectTestController, type TestController } from '../helpers/test-controller.js';
import { waitFor } from '../helpers/wait-for.js';

/** The agent's clock runs this many times fast (libfaketime): its timers and back-off with it. */
const RATE = Number(process.env.OUTPOST_OUTAGE_RATE ?? 60);
/** Simulated length of the outage, on the agent's clock. OUTPOST_OUTAGE_MINUTES raises it (real time = minutes * 60 / RATE s). */
const OUTAGE_MS = Number(process.env.OUTPOST_OUTAGE_MINUTES ?? 60) * 60_000;
/** The agent's own reconnect back-off (agent defaults): base 1 s, cap 60 s, full jitter. */
const RECONNECT_CAP_MS = 60_000;

/**
 * Issue 13, F13: the whole control plane — controller, broker and Redis —
 * down for an hour of the device's time while the device keeps running and
 * reboots in the middle of it. The agent runs on a clock 60 times fast
 * (libfaketime '@<start> x60': Date, the monotonic clock and so every Node
 * timer, the back-off included, follow it; verified with Node 20), so the
 * hour takes a minute. Its back-off is the agent's default (cap 60 s).
 *
 * Shows: the workloads keep running, and after the reboot (agent killed,
 * containers killed as a power cut does) come back from the cached desired
 * state with no network; the agent keeps trying all hour at the capped,
 * jittered pace — no give-up, no tight loop — across the reboot; when the
 * control plane returns the device reconnects by itself, reports what it
 * runs, and takes the deployment made after the return; checker clean.
 *
 * Both brokers (Outpost's on Redis, Mosquitto with its persistence file).
 * The device's clock is not the controller's here (it races ahead): the
 * corrected clock of DD-052 is re-read on the reconnect.
 */
describe('F13: the whole control plane down for an hour while the device reboots', () => {
  let brokers: BrokerRig | undefined;
  let controller: ControllerProcess | undefined;
  let observer: TestController | undefined;
  let agent: ManagedProcess | undefined;
  let dir: TempDir | undefined;
  let deviceId = '';
  const outputs: string[] = [];
  dumpOnFailure(() => ({ agents: [...outputs, agent?.output() ?? ''].join('\n----\n'), controller: controller?.proc.output() ?? '' }));

  afterAll(async () => {
    await agent?.stop();
    await observer?.close();
    await controller?.proc.stop();
    await brokers?.close();
    if (deviceId) await removeDeviceContainers(deviceId);
    await dir?.remove();
  });

  it('workloads survive, the back-off stays capped and never gives up, and the device converges by itself on return', async () => {
    const since = Date.now() / 1000 - 1;
    brokers = await startBrokerRig();
    const rig = brokers;
    const startController = async (apiPort?: number): Promise<ControllerProcess> =>
      startControllerProcess({
        name: 'controller',
        redisUrl: rig.redis.url,
        brokerUrl: rig.brokerUrl,
        servicePassword: rig.servicePassword,
        adminToken: rig.adminToken,
        ...(apiPort !== undefined ? { apiPort } : {}),
      });
    controller = await startController();
    const client = new ApiClient({ baseUrl: controller.apiUrl, token: rig.adminToken });
    observer = await connectTestController(rig.brokerUrl, rig.serviceAuth);

    const role = `outage-${Math.random().toString(36).slice(2, 7)}`;
    deviceId = `outage-${Math.random().toString(36).slice(2, 7)}`;
    const { secret } = await client.addDevice({ id: deviceId, labels: { role } });
    const watch = await observer.watch(deviceId);
    await client.createRelease({ app: 'out', version: '1', workloads: { web: { image: TEST_IMAGE, stopTimeoutSeconds: 1 } } });
    await client.createRelease({ app: 'out', version: '2', workloads: { web: { image: TEST_IMAGE_2, stopTimeoutSeconds: 1 } } });
    await client.createDeployment({ app: 'out', version: '1', target: { kind: 'selector', selector: `role=${role}` } });

    dir = await makeTempDir('outage');
    const stateDir = dir.path;
    const start = async (clockMs: number): Promise<ManagedProcess> =>
      startAgent({
        deviceId,
        brokerUrl: rig.brokerUrl,
        secret,
        stateDir,
        timings: 'agent',
        // A keepalive of an hour of fake time is a minute of real time: a live connection stays live.
        extraArgs: ['--log-level', 'debug', '--keepalive', '3600'],
        env: fakeTimeFrom(clockMs, RATE),
        bufferLines: 50_000,
      });
    agent = await start(Date.now());
    const v1 = (await client.desiredOf(deviceId)).desired?.version ?? 0;
    await watch.waitForReport((r) => r.phase === 'converged' && r.desired.appliedVersion === v1, 60_000, 'converged on v1');
    const [before] = (await deviceContainers(deviceId)).filter((c) => c.state === 'running');
    expect(before?.image).toBe(TEST_IMAGE);

    // The control plane goes: controller and Redis killed, broker stopped.
    controller.proc.kill('SIGKILL');
    await controller.proc.waitForExit(10_000);
    const apiPort = controller.apiPort;
    await rig.stopBroker();
    await rig.redis.kill9();
    const downAt = await waitFor(() => lastLogTime(agent?.output() ?? ''), { timeoutMs: 10_000, description: 'an agent log line' });

    // Half an hour in (device time), the device reboots: agent killed, containers killed with it.
    await waitFor(() => ((lastLogTime(agent?.output() ?? '') ?? 0) >= downAt + OUTAGE_MS / 2 ? true : undefined), {
      timeoutMs: (OUTAGE_MS / RATE) * 3,
      intervalMs: 100,
      description: 'half the outage on the device clock',
    });
    agent.kill('SIGKILL');
    await agent.waitForExit(10_000);
    const clockAtCut = lastLogTime(agent.output()) ?? Date.now();
    outputs.push(agent.output());
    const docker = new Docker();
    for (const c of await deviceContainers(deviceId)) await docker.getContainer(c.id).kill().catch(() => undefined);
    await waitFor(async () => ((await deviceContainers(deviceId)).every((c) => c.state !== 'running') ? true : undefined), {
      timeoutMs: 15_000,
      description: 'containers down with the power cut',
    });
    agent = await start(clockAtCut);
    const back = await waitFor(
      async () => (await deviceContainers(deviceId)).find((c) => c.state === 'running' && c.image === TEST_IMAGE),
      { timeoutMs: 30_000, description: 'the workload back from the cache with no network' },
    );
    expect(back.id).toBe(before?.id);
    expect(agent.output()).toMatch(/reconciling cached desired state/);

    // The rest of the hour, then the control plane comes back.
    await waitFor(() => ((lastLogTime(agent?.output() ?? '') ?? 0) >= downAt + OUTAGE_MS ? true : undefined), {
      timeoutMs: (OUTAGE_MS / RATE) * 3,
      intervalMs: 100,
      description: 'the whole outage on the device clock',
    });
    const upAt = lastLogTime(agent.output()) ?? 0;

    // The back-off over the hour, both agent processes: capped and jittered, never given up, never tight.
    const all = [...outputs, agent.output()].join('\n');
    const attempts = logTimes(all, 'reconnect scheduled').filter((t) => t >= downAt && t <= upAt);
    const gaps = attempts.slice(1).map((t, i) => t - (attempts[i] ?? t));
    // With full jitter below a 60 s cap, an hour holds ~120 attempts; a tight loop thousands, a give-up a handful.
    expect(attempts.length).toBeGreaterThanOrEqual(40);
    expect(attempts.length).toBeLessThanOrEqual(400);
    // No gap beyond the cap (plus slack for the reboot and a loaded machine's real-time jitter, ×RATE).
    const longGaps = gaps.filter((g) => g > RECONNECT_CAP_MS + 60_000);
    expect(longGaps.length, `gaps over the cap: ${longGaps.join(', ')}`).toBeLessThanOrEqual(1);
    expect(upAt - (attempts.at(-1) ?? 0)).toBeLessThanOrEqual(RECONNECT_CAP_MS + 60_000);

    // The record for docs/reliability.md (one line).
    process.stdout.write(
      `F13 outage: ${attempts.length} reconnect attempts in ${Math.round((upAt - downAt) / 60_000)} min of device time, ` +
        `longest gap ${Math.round(Math.max(0, ...gaps) / 1000)} s, median ${Math.round((gaps.sort((a, b) => a - b)[Math.floor(gaps.length / 2)] ?? 0) / 1000)} s\n`,
    );
    await rig.redis.restart();
    await rig.startBroker();
    controller = await startController(apiPort);
    const afterReboot = Date.parse(new Date(clockAtCut).toISOString()) - 1000;
    await watch.waitForReport(
      (r) => r.phase === 'converged' && r.desired.appliedVersion === v1 && Date.parse(r.agent.startedAt) >= afterReboot,
      60_000,
      'the rebooted agent reconnected by itself and reports v1',
    );

    // Deployed after the return: it arrives and is applied once.
    await client.createDeployment({ app: 'out', version: '2', target: { kind: 'selector', selector: `role=${role}` } });
    const v2 = (await client.desiredOf(deviceId)).desired?.version ?? 0;
    expect(v2).toBeGreaterThan(v1);
    await watch.waitForReport((r) => r.phase === 'converged' && r.desired.appliedVersion === v2, 60_000, 'converged on v2');

    const received: number[] = [];
    for (const e of watch.events) if (e.type === 'desired.received' && typeof e.version === 'number' && !received.includes(e.version)) received.push(e.version);
    const verdict = checkHistory(deviceId, {
      published: [...received, v2],
      applied: watch.reports.map((r) => r.desired.appliedVersion),
      creates: await containerCreates(deviceId, since),
    });
    expect(verdict).toEqual({ lost: 0, duplicated: 0, unexpected: 0, problems: [] });
  });
});
