import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Docker from 'dockerode';
import { startAedesFixture, type BrokerFixture } from '../helpers/brokers.js';
import { createDeviceRig, type DeviceRig } from '../helpers/device-rig.js';
import { deviceContainers, expectedHash } from '../helpers/device-containers.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { freePort } from '../helpers/free-port.js';
import { ensureTestImage, pushToRegistry } from '../helpers/images.js';
import { startRegistry, type RegistryServer } from '../helpers/registry.js';
import { connectTestController, type TestController } from '../helpers/test-controller.js';
import type { WorkloadSpecInput } from '../../shared/schemas/workload.js';

const docker = new Docker();
const HTTPD = ['sh', '-c', 'echo ok > /tmp/index.html; exec httpd -f -p 8080 -h /tmp'];

/** Container start/die events of a device since a moment, in order (Docker's own log). */
async function lifecycle(deviceId: string, since: number): Promise<{ action: string; specHash: string; time: number }[]> {
  const stream = (await docker.getEvents({
    since: since.toFixed(3) as unknown as number,
    until: Math.ceil(Date.now() / 1000) + 1,
    filters: { type: ['container'], event: ['start', 'die'], label: [`io.outpost.device=${deviceId}`] },
  })) as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks)
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { Action: string; timeNano: number; Actor: { Attributes: Record<string, string> } })
    .map((e) => ({ action: e.Action, specHash: e.Actor.Attributes['io.outpost.spec-hash'] ?? '', time: e.timeNano }));
}

/** Each update strategy replaces a workload correctly; hand-over refuses a host-port collision. */
describe('update strategies', () => {
  let broker: BrokerFixture;
  let registry: RegistryServer;
  let controller: TestController;
  let rig: DeviceRig;
  dumpOnFailure((): Record<string, string> => (rig?.agent ? { agent: rig.agent.output() } : {}));
  let version = 0;
  /** The spec the device runs now (what the next update replaces). */
  let current: WorkloadSpecInput | undefined;
  const images: string[] = [];
  const suffix = Math.random().toString(36).slice(2, 8);

  beforeAll(async () => {
    [broker, registry] = await Promise.all([startAedesFixture(), startRegistry()]);
    controller = await connectTestController(broker.url, broker.serviceAuth);
    rig = await createDeviceRig(broker, controller, 'strat');
    await rig.startAgent();
    for (const v of ['a', 'b', 'c', 'd', 'e']) {
      const tag = `outpost-test/strategy-${suffix}:${v}`;
      await ensureTestImage(tag, { label: `strategy-${suffix}-${v}` });
      images.push(tag);
    }
  });

  afterAll(async () => {
    await rig?.dispose();
    await controller?.close();
    await broker?.stop();
    await registry?.stop();
    for (const tag of images) await docker.getImage(tag).remove({ force: true }).catch(() => undefined);
  });

  const web = (image: string, strategy: WorkloadSpecInput['strategy'], extra: Partial<WorkloadSpecInput> = {}): WorkloadSpecInput => ({
    image,
    command: HTTPD,
    strategy,
    // httpd as PID 1 ignores SIGTERM: keep docker stop short.
    stopTimeoutSeconds: 1,
    health: { type: 'http', port: 8080, intervalSeconds: 1, timeoutSeconds: 1, retries: 3 },
    ...extra,
  });

  async function deploy(workloads: Record<string, WorkloadSpecInput>) {
    version++;
    await rig.publish(version, workloads);
    const report = await rig.converged(version, 90_000);
    current = workloads.web;
    return report;
  }

  it.each([
    ['download-then-kill', 0, 1],
    ['kill-then-download', 1, 2],
    ['delete-then-download', 2, 3],
    ['hand-over', 3, 4],
  ] as const)('%s replaces the workload', async (strategy, from, to) => {
    if (!current) await deploy({ web: web(images[from]!, strategy) });
    const before = current!;
    const since = Date.now() / 1000;
    // delete-then-download only matters when there is something to download: take the new image from the registry.
    const image =
      strategy === 'delete-then-download'
        ? `${registry.host}/strategy@${await pushToRegistry(images[to]!, registry.host, 'strategy', 'next')}`
        : images[to]!;
    const after = web(image, strategy, { env: { STRATEGY: strategy } });
    const report = await deploy({ web: after });
    const cs = await deviceContainers(rig.deviceId);
    expect(cs.map((c) => [c.workload, c.specHash, c.state])).toEqual([['web', expectedHash(after), 'running']]);
    expect(cs[0]?.image).toBe(image);
    expect(report.workloads.web?.state).toBe('running');

    const events = await lifecycle(rig.deviceId, since);
    const newStart = events.find((e) => e.action === 'start' && e.specHash === expectedHash(after))?.time ?? 0;
    const oldDie = events.find((e) => e.action === 'die' && e.specHash === expectedHash(before))?.time ?? 0;
    expect(newStart).toBeGreaterThan(0);
    expect(oldDie).toBeGreaterThan(0);
    if (strategy === 'hand-over') expect(newStart).toBeLessThan(oldDie); // started beside the old one
    else expect(oldDie).toBeLessThan(newStart);
    if (strategy === 'delete-then-download') {
      // The old image went before the download (little disk).
      await expect(docker.getImage(images[from]!).inspect()).rejects.toMatchObject({ statusCode: 404 });
      // The update's steps, in the order they ran, from the event that closed it (event detail summary).
      const applied = rig.watch.events.find((e) => e.type === 'reconcile.succeeded' && e.version === version);
      const steps = ((applied?.data.steps ?? []) as { step: string }[]).map((st) => st.step);
      expect(steps).toContain('remove-image');
      expect(steps.indexOf('remove-image')).toBeLessThan(steps.indexOf('pull'));
    }
  });

  it('hand-over with a host-port collision is refused with a clear reason; the old workload keeps running', async () => {
    const port = await freePort();
    const v1 = web(images[4]!, 'download-then-kill', { ports: [{ container: 8080, host: port }] });
    await deploy({ web: v1 });
    const running = await deviceContainers(rig.deviceId);
    version++;
    await rig.publish(version, { web: web(images[4]!, 'hand-over', { ports: [{ container: 8080, host: port }], env: { NEXT: '1' } }) });
    const report = await rig.watch.waitForReport((r) => r.phase === 'failed' && r.desired.applyingVersion === version, 60_000, 'hand-over refused');
    expect(report.errors.at(-1)?.code).toBe('HANDOVER_PORT_CONFLICT');
    expect(report.errors.at(-1)?.message).toMatch(new RegExp(`host port ${port}/tcp`));
    expect((await deviceContainers(rig.deviceId)).map((c) => [c.id, c.state])).toEqual(running.map((c) => [c.id, 'running']));
  });
});
