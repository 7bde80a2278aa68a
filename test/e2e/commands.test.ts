import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandView } from '../../controller/commands/command-record.js';
import { Telemetry } from '../../shared/schemas/telemetry.js';
import { AGENT_VERSION } from '../../shared/version.js';
import { startAgent } from '../helpers/agent-process.js';
import { startApi, type ApiRig, type ApiResponse } from '../helpers/api.js';
import { deviceContainers, type DeviceContainer } from '../helpers/device-containers.js';
import { removeDeviceContainers, waitFor } from '../helpers/docker.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { TEST_IMAGE } from '../helpers/images.js';
import type { ManagedProcess } from '../helpers/process.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { connectTestController, type DeviceWatch, type TestController } from '../helpers/test-controller.js';

/**
 * Commands through the real API and controller to a real agent running a real
 * container: logs, restart, ping, expiry while offline, queued delivery on
 * return, and telemetry (issue 4, test 7).
 */
describe('commands and telemetry end to end', () => {
  let api: ApiRig;
  let observer: TestController;
  let watch: DeviceWatch;
  let dir: TempDir;
  let secret: string;
  let agent: ManagedProcess | undefined;
  const deviceId = `cmd-${Math.random().toString(36).slice(2, 7)}`;
  const workload = 'app-ticker';
  const base = `/v1/devices/${deviceId}`;

  dumpOnFailure(() => (agent ? { [agent.name]: agent.output() } : {}));

  async function startDevice(): Promise<void> {
    agent = await startAgent({ deviceId, brokerUrl: api.rig.brokerUrl, secret, stateDir: dir.path, extraArgs: ['--telemetry-interval', '1'] });
    await waitFor(async () => (await api.rig.controller.controlPlane.statusOf(deviceId)).online, { timeoutMs: 15_000, description: 'controller sees the device online' });
  }

  async function stopDevice(): Promise<void> {
    await agent?.stop();
    agent = undefined;
    await waitFor(async () => !(await api.rig.controller.controlPlane.statusOf(deviceId)).online, { timeoutMs: 15_000, description: 'controller sees the device offline' });
  }

  const send = (body: Record<string, unknown>): Promise<ApiResponse> => api.call('POST', `${base}/commands`, body);
  const viewOf = (res: ApiResponse): CommandView => res.body as CommandView;
  const ticker = async (): Promise<DeviceContainer> => {
    const c = (await deviceContainers(deviceId)).find((x) => x.workload === workload);
    if (!c) throw new Error(`no ${workload} container`);
    return c;
  };
  /** The command's record once the device's answer is in. */
  const answered = (id: string, timeoutMs = 30_000): Promise<CommandView> =>
    waitFor(
      async () => {
        const res = await api.call('GET', `${base}/commands/${id}`);
        const view = viewOf(res);
        return res.status === 200 && view.result ? view : undefined;
      },
      { timeoutMs, description: `answer to ${id}` },
    );

  beforeAll(async () => {
    api = await startApi();
    observer = await connectTestController(api.rig.brokerUrl, api.rig.serviceAuth);
    watch = await observer.watch(deviceId);
    dir = await makeTempDir('commands');
    const cp = api.rig.controller.controlPlane;
    ({ secret } = await cp.addDevice({ id: deviceId }));
    await cp.createRelease({
      app: 'app',
      version: '1',
      workloads: {
        ticker: {
          image: TEST_IMAGE,
          command: ['sh', '-c', "trap 'exit 0' TERM; i=0; while true; do i=$((i+1)); echo line-$i; sleep 0.2; done"],
          stopTimeoutSeconds: 2,
        },
      },
    });
    await cp.createDeployment({ app: 'app', version: '1', target: { kind: 'devices', devices: [deviceId] } });
    await startDevice();
    await watch.waitForReport((r) => r.phase === 'converged' && r.desired.appliedVersion === 1, 60_000, 'converged at v1');
  });

  afterAll(async () => {
    await agent?.stop();
    await observer?.close();
    await api?.close();
    await removeDeviceContainers(deviceId);
    await dir?.remove();
  });

  it('logs returns the last lines of the workload, tail respected', async () => {
    // Until it has printed a dozen lines (it prints one every 0.2 s).
    const id = (await ticker()).id;
    await waitFor(async () => /line-1[2-9]|line-[2-9]\d|line-\d{3,}/.test((await new Docker().getContainer(id).logs({ stdout: true, tail: 3 })).toString('latin1')), {
      timeoutMs: 20_000,
      description: 'a dozen lines printed',
    });
    const res = await send({ type: 'logs', workload, tail: 5 });
    expect(res.status, res.raw.body).toBe(200);
    const view = viewOf(res);
    expect(view).toMatchObject({ status: 'done', online: true, command: { type: 'logs', workload, tail: 5, deviceId }, result: { ok: true } });
    const text = String(view.result?.output?.['text']);
    const lines = text.split('\n');
    expect(lines).toHaveLength(5);
    const numbers = lines.map((l) => Number(/^line-(\d+)$/.exec(l)?.[1]));
    expect(numbers.every((n) => Number.isInteger(n))).toBe(true);
    // Consecutive and recent: the newest lines, not the first ones.
    expect(numbers).toEqual([0, 1, 2, 3, 4].map((i) => (numbers[0] ?? 0) + i));
    expect(numbers[4]).toBeGreaterThan(8);
  });

  it('ping round trip answers with the agent version and uptime', async () => {
    const res = await send({ type: 'ping' });
    expect(res.status, res.raw.body).toBe(200);
    expect(viewOf(res)).toMatchObject({ status: 'done', result: { ok: true, output: { pong: true, agentVersion: AGENT_VERSION } } });
    expect(viewOf(res).result?.output?.['agentUptimeSeconds']).toEqual(expect.any(Number));
    // The record is kept: GET shows the same answer.
    const again = await api.call('GET', `${base}/commands/${viewOf(res).command.id}`);
    expect(again.status).toBe(200);
    expect(viewOf(again)).toMatchObject({ status: 'done', result: viewOf(res).result });
  });

  it('restart restarts the container: same id, new StartedAt', async () => {
    const before = await ticker();
    expect(before.state).toBe('running');
    const res = await send({ type: 'restart', workload });
    expect(res.status, res.raw.body).toBe(200);
    expect(viewOf(res)).toMatchObject({ status: 'done', result: { ok: true, output: { containerId: before.id, running: true } } });
    const after = await ticker();
    expect(after.id).toBe(before.id);
    expect(after.state).toBe('running');
    expect(Date.parse(after.startedAt)).toBeGreaterThan(Date.parse(before.startedAt));
  });

  it('an unknown workload is refused by the API before anything is sent', async () => {
    const res = await send({ type: 'restart', workload: 'app-nope' });
    expect(res.status).toBe(400);
    expect(res.raw.body).toMatch(/has no workload app-nope \(its workloads: app-ticker/);
  });

  it('telemetry arrives and the API shows CPU, memory, disk, containers and MQTT bytes', async () => {
    // Only a sample taken after this test began: an earlier one may have been
    // taken while another test restarted the container (state "exited").
    const since = Date.now();
    const t = await waitFor(
      async () => {
        const res = await api.call('GET', `${base}/telemetry`);
        const telemetry = (res.body as { telemetry: Telemetry | null }).telemetry;
        return telemetry && Date.parse(telemetry.at) > since && telemetry.cpu.usagePct !== null && telemetry.containers.length > 0 ? telemetry : undefined;
      },
      { timeoutMs: 20_000, description: 'telemetry with a CPU usage' },
    );
    expect(Telemetry.parse(t)).toEqual(t);
    expect(t.deviceId).toBe(deviceId);
    expect(t.cpu.cores).toBeGreaterThanOrEqual(1);
    expect(t.memory.totalBytes).toBeGreaterThan(t.memory.availableBytes);
    expect(t.disk.path).toBe(dir.path);
    expect(t.disk.totalBytes).toBeGreaterThan(0);
    expect(t.containers).toEqual([{ workload, state: 'running', restartCount: expect.any(Number) }]);
    expect(t.mqtt.bytesIn).toBeGreaterThan(0);
    expect(t.mqtt.bytesOut).toBeGreaterThan(0);
    expect(Date.now() - Date.parse(t.at)).toBeLessThan(10_000);
    // Samples keep coming: the byte counters grow.
    await waitFor(
      async () => {
        const res = await api.call('GET', `${base}/telemetry`);
        const next = (res.body as { telemetry: Telemetry }).telemetry;
        return Date.parse(next.at) > Date.parse(t.at) && next.mqtt.bytesOut > t.mqtt.bytesOut;
      },
      { timeoutMs: 10_000, description: 'a newer sample' },
    );
  });

  it('an expired command is not executed: sent while offline with a 1 s ttl, dropped on arrival', async () => {
    await stopDevice();
    const before = await ticker();
    const res = await send({ type: 'restart', workload, ttlSeconds: 1 });
    expect(res.status, res.raw.body).toBe(202);
    const queued = viewOf(res);
    expect(queued).toMatchObject({ status: 'queued', online: false, result: null });
    expect(queued.message).toBe(`${deviceId} is offline: command ${queued.command.id} queued, expires at ${queued.expiresAt}`);
    // The device comes back only once the command's time to live is over.
    await waitFor(() => Date.now() > Date.parse(queued.expiresAt) + 100, { timeoutMs: 10_000, description: 'the command expired' });
    await startDevice();
    const event = await watch.waitForEvent((e) => e.data['commandId'] === queued.command.id, 30_000, 'command.expired');
    expect(event).toMatchObject({ type: 'command.expired', code: 'COMMAND_EXPIRED', workload });
    const view = await answered(queued.command.id);
    expect(view).toMatchObject({ status: 'expired', result: { ok: false, code: 'COMMAND_EXPIRED' } });
    // Never executed: one answer only, and the container was not restarted. A ping sent after it is
    // answered after it (a device handles its commands in order): anything more would be in by then.
    const sentinel = await send({ type: 'ping' });
    expect(viewOf(sentinel)).toMatchObject({ status: 'done', result: { ok: true } });
    expect(watch.events.filter((e) => e.data['commandId'] === queued.command.id).map((e) => e.type)).toEqual(['command.expired']);
    const after = await ticker();
    expect(after.id).toBe(before.id);
    expect(after.startedAt).toBe(before.startedAt);
  });

  it('commands sent while the device is offline run when it returns; the API first said queued', async () => {
    await stopDevice();
    const before = await ticker();
    const restart = await send({ type: 'restart', workload });
    const ping = await send({ type: 'ping', waitSeconds: 5 });
    for (const res of [restart, ping]) {
      expect(res.status, res.raw.body).toBe(202);
      expect(viewOf(res)).toMatchObject({ status: 'queued', online: false, result: null });
      expect(viewOf(res).message).toMatch(/is offline: command c-\S+ queued, expires at \d{4}-/);
    }
    await startDevice();
    const restarted = await answered(viewOf(restart).command.id);
    expect(restarted).toMatchObject({ status: 'done', online: true, result: { ok: true, output: { containerId: before.id } } });
    const ponged = await answered(viewOf(ping).command.id);
    expect(ponged).toMatchObject({ status: 'done', result: { ok: true, output: { pong: true } } });
    const after = await ticker();
    expect(after.id).toBe(before.id);
    expect(Date.parse(after.startedAt)).toBeGreaterThan(Date.parse(before.startedAt));
  });
});
