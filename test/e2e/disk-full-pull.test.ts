import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Docker from 'dockerode';
import { checkHistory } from '../../bench/chaos/checker.js';
import type { WorkloadSpecInput } from '../../shared/schemas/workload.js';
import { testBrokerKind } from '../helpers/broker-mode.js';
import { startAedesFixture, type BrokerFixture } from '../helpers/brokers.js';
import { buildBulkyImage } from '../helpers/bulky-image.js';
import { containerCreates, deviceContainers, expectedHash } from '../helpers/device-containers.js';
import { createDeviceRig, type DeviceRig } from '../helpers/device-rig.js';
import { removeDeviceContainers } from '../helpers/docker.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { startEngineDaemon, type EngineDaemon } from '../helpers/engine-daemon.js';
import { TEST_IMAGE, pushToRegistry } from '../helpers/images.js';
import { startRegistry, type RegistryServer } from '../helpers/registry.js';
import { connectTestController, type TestController } from '../helpers/test-controller.js';
import { waitFor } from '../helpers/wait-for.js';

const MiB = 2 ** 20;
/** The device engine's whole storage (a tmpfs), the new image's extra layer, and what the filler leaves free. */
const STORAGE_MIB = 96;
const BULK_MIB = 24;
const LEFT_FREE_MIB = 8;
/** The agent's reconcile retry policy in the test timings (agent-process.ts: --retry-base-ms 500 --retry-cap-ms 3000). */
const RETRY_BASE_MS = 500;

/**
 * Issue 13, F11: the device's container storage fills up during a pull. The
 * device has its own Docker engine (a second dockerd whose --data-root is a
 * 96 MiB tmpfs); its images come from the test's registry. Version 2's image
 * carries 24 MiB of random bytes, more than the 8 MiB a filler file leaves:
 * the engine's download fails with ENOSPC. The report and the log say
 * IMAGE_STORAGE_FULL, version 1 keeps running, the agent retries with its
 * backoff, and once the filler is deleted it converges on version 2 by itself.
 *
 * Outpost's broker only: the broker plays no part in this fault (the device's
 * disk), and the aedes pass covers it.
 */
describe.skipIf(testBrokerKind() === 'mosquitto-dynsec')('F11: disk full on the device during a pull', () => {
  let registry: RegistryServer;
  let engine: EngineDaemon;
  let broker: BrokerFixture;
  let controller: TestController;
  let rig: DeviceRig;
  let refs: { v1: string; v2: string };
  const bulkyTag = `outpost-test/bulky:f11-${Math.random().toString(36).slice(2, 8)}`;
  const spec = (version: number): Record<string, WorkloadSpecInput> => ({
    app: { image: version === 1 ? refs.v1 : refs.v2, env: { V: String(version) }, stopTimeoutSeconds: 1 },
  });
  dumpOnFailure((): Record<string, string> => ({
    ...(rig?.agent ? { agent: rig.agent.output() } : {}),
    ...(engine ? { engine: engine.output() } : {}),
  }));

  beforeAll(async () => {
    registry = await startRegistry();
    engine = await startEngineDaemon({ storageMiB: STORAGE_MIB });
    await buildBulkyImage(bulkyTag, BULK_MIB);
    refs = {
      v1: `${registry.host}/f11/app@${await pushToRegistry(TEST_IMAGE, registry.host, 'f11/app', '1')}`,
      v2: `${registry.host}/f11/app@${await pushToRegistry(bulkyTag, registry.host, 'f11/app', '2')}`,
    };
    await new Docker().getImage(bulkyTag).remove();
    broker = await startAedesFixture();
    controller = await connectTestController(broker.url, broker.serviceAuth);
    rig = await createDeviceRig(broker, controller, 'f11');
    await rig.startAgent({ extraArgs: ['--docker-socket', engine.socketPath], bufferLines: 2_000 });
  }, 90_000);

  afterAll(async () => {
    await rig?.stopAgent();
    if (engine) await removeDeviceContainers(rig?.deviceId ?? '', engine.docker).catch(() => undefined);
    await rig?.dispose();
    await engine?.stop();
    await controller?.close();
    await broker?.stop();
    await registry?.stop();
  }, 60_000);

  it('fails the pull with IMAGE_STORAGE_FULL, keeps v1 running, backs off, and converges on v2 once space is freed', async () => {
    const since = Date.now() / 1000;
    await rig.publish(1, spec(1));
    await rig.converged(1, 60_000);
    const [v1] = await deviceContainers(rig.deviceId, engine.docker);
    expect(v1?.state).toBe('running');

    await engine.fill(LEFT_FREE_MIB * MiB);
    expect(await engine.freeBytes()).toBeLessThan(BULK_MIB * MiB);
    await rig.publish(2, spec(2));

    // The coded error reaches the report, with the engine's own words; v1 is still what runs.
    const failed = await rig.watch.waitForReport((r) => r.errors.some((e) => e.code === 'IMAGE_STORAGE_FULL'), 60_000, 'IMAGE_STORAGE_FULL reported');
    expect(failed.errors.find((e) => e.code === 'IMAGE_STORAGE_FULL')?.message).toMatch(/no space left on device/);
    expect(failed.desired.appliedVersion).toBe(1);
    expect(rig.agent?.output()).toMatch(/"code":"IMAGE_STORAGE_FULL".*"msg":"reconcile failed"/);

    // Retried with backoff, not in a tight loop: each attempt waits out the delay the one before announced.
    const failures = await waitFor(
      () => {
        const f = rig.watch.events.filter((e) => e.type === 'reconcile.failed' && e.code === 'IMAGE_STORAGE_FULL');
        return f.length >= 4 ? f : undefined;
      },
      { timeoutMs: 60_000, description: 'four failed attempts' },
    );
    for (let i = 1; i < failures.length; i++) {
      const gapMs = Date.parse(failures[i]!.at) - Date.parse(failures[i - 1]!.at);
      expect(gapMs).toBeGreaterThanOrEqual(Number(failures[i - 1]!.data.retryInMs) - 50);
    }
    const spanMs = Date.parse(failures.at(-1)!.at) - Date.parse(failures[0]!.at);
    expect(failures.length - 1).toBeLessThanOrEqual(Math.max(3, spanMs / (RETRY_BASE_MS / 4)));
    expect((await deviceContainers(rig.deviceId, engine.docker)).map((c) => [c.id, c.state])).toEqual([[v1?.id, 'running']]);

    // Space returns; nobody publishes anything: the next retry pulls and applies v2.
    await engine.unfill();
    await rig.converged(2, 90_000);
    const after = await deviceContainers(rig.deviceId, engine.docker);
    expect(after.map((c) => [c.state, c.specHash])).toEqual([['running', expectedHash(spec(2).app!)]]);

    const verdict = checkHistory(rig.deviceId, {
      published: [1, 2],
      applied: rig.watch.reports.map((r) => r.desired.appliedVersion),
      creates: await containerCreates(rig.deviceId, since, engine.docker),
    });
    expect(verdict).toEqual({ lost: 0, duplicated: 0, unexpected: 0, problems: [] });
  });
});
