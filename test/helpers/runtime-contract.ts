import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WorkloadGrant } from '../../agent/policy/admit-workload.js';
import { specHash } from '../../agent/reconcile/spec-hash.js';
import { toContainerCreate } from '../../agent/runtime/container-spec.js';
import type { ContainerCreateRequest, ContainerRuntime, PullProgress } from '../../agent/runtime/runtime.js';
import { isOutpostError } from '../../shared/errors.js';
import { WorkloadSpec, type WorkloadSpecInput } from '../../shared/schemas/workload.js';
import { freePort } from './free-port.js';
import { waitFor } from './wait-for.js';

/** One ContainerRuntime adapter, set up with what the contract needs around it. */
export interface RuntimeContractTarget {
  readonly runtime: ContainerRuntime;
  /** On the engine; its default command runs until stopped and exits 0 on SIGTERM. */
  readonly image: string;
  /** On the engine too, another image id. */
  readonly image2: string;
  /** Not on the engine, and pulls successfully. */
  readonly pullable: string;
  /** On a registry that answers, but not there: IMAGE_NOT_FOUND. */
  readonly missingInRegistry: string;
  /** On a registry that cannot be reached: IMAGE_PULL_FAILED. */
  readonly unreachable: string;
  /** An executable the image does not hold: starting a container running it fails. */
  readonly missingExecutable: string;
  /** Removes what a test left on the engine for this device id (containers, volumes, pulled images). */
  cleanup(deviceId: string, extra: { volumes: string[]; images: string[] }): Promise<void>;
  close(): Promise<void>;
}

const NO_GRANT: WorkloadGrant = { mounts: [], capAdd: [] };

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (isOutpostError(err)) return err.code;
    return `not an OutpostError: ${String(err)}`;
  }
  return 'resolved';
}

/**
 * The ContainerRuntime contract (DD-029): what the reconciler, the health
 * gate, the command handler and the reporter rely on, failure cases
 * included. The same tests run against DockerRuntime on a real engine and
 * against SimulatedRuntime, so the simulation cannot drift from Docker.
 */
export function describeRuntimeContract(name: string, setup: () => Promise<RuntimeContractTarget>): void {
  describe(`ContainerRuntime contract: ${name}`, () => {
    let t: RuntimeContractTarget;
    let deviceId: string;
    let extra: { volumes: string[]; images: string[] };

    beforeAll(async () => {
      t = await setup();
    });
    afterAll(async () => {
      await t?.close();
    });
    afterEach(async () => {
      if (deviceId) await t.cleanup(deviceId, extra);
    });

    /** A fresh device per test, so tests never see each other's containers. */
    function device(): string {
      deviceId = `contract-${randomBytes(4).toString('hex')}`;
      extra = { volumes: [], images: [] };
      return deviceId;
    }

    function request(workload: string, input: Partial<WorkloadSpecInput> = {}, grant: WorkloadGrant = NO_GRANT): ContainerCreateRequest {
      const spec = WorkloadSpec.parse({ image: t.image, stopTimeoutSeconds: 1, ...input });
      return toContainerCreate(deviceId, workload, spec, specHash(spec), grant);
    }

    async function running(idOrName: string): Promise<void> {
      await waitFor(async () => (await t.runtime.inspectContainer(idOrName))?.running, { timeoutMs: 20_000, description: `${idOrName} running` });
    }

    it('ping answers', async () => {
      await expect(t.runtime.ping()).resolves.toBeUndefined();
    });

    it('inspectImage: an id for a present image, null for an absent one', async () => {
      const a = await t.runtime.inspectImage(t.image);
      const b = await t.runtime.inspectImage(t.image2);
      expect(a?.id).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(b?.id).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(a?.id).not.toBe(b?.id);
      expect(await t.runtime.inspectImage(t.pullable)).toBeNull();
      expect(await t.runtime.inspectImage(`outpost-contract/never-${randomBytes(3).toString('hex')}:1`)).toBeNull();
    });

    it('pullImage: the image is then present with a repo digest, and progress was reported', async () => {
      device();
      extra.images.push(t.pullable);
      const progress: PullProgress[] = [];
      await t.runtime.pullImage(t.pullable, { onProgress: (p) => progress.push(p) });
      const image = await t.runtime.inspectImage(t.pullable);
      expect(image?.id).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(image?.repoDigests.some((d) => /@sha256:[0-9a-f]{64}$/.test(d))).toBe(true);
      expect(progress.length).toBeGreaterThan(0);
    });

    it('pullImage fails with coded errors: bad reference, unreachable registry, unknown image, aborted', async () => {
      expect(await codeOf(t.runtime.pullImage('Not A Reference!'))).toBe('IMAGE_PULL_FAILED');
      expect(await codeOf(t.runtime.pullImage(t.unreachable))).toBe('IMAGE_PULL_FAILED');
      expect(await codeOf(t.runtime.pullImage(t.missingInRegistry))).toBe('IMAGE_NOT_FOUND');
      const aborted = new AbortController();
      aborted.abort();
      expect(await codeOf(t.runtime.pullImage(t.pullable, { signal: aborted.signal }))).toBe('RECONCILE_ABORTED');
      expect(await t.runtime.inspectImage(t.unreachable)).toBeNull();
    });

    it('createContainer: listed for its device only, with its labels, created state; the same name returns the same id', async () => {
      const me = device();
      const req = request('web');
      const id = await t.runtime.createContainer(req);
      expect(await t.runtime.createContainer(req)).toBe(id);
      const listed = await t.runtime.listContainers(me);
      expect(listed).toHaveLength(1);
      const spec = WorkloadSpec.parse({ image: t.image, stopTimeoutSeconds: 1 });
      expect(listed[0]).toMatchObject({ id, name: req.name, workload: 'web', specHash: specHash(spec), image: t.image, state: 'created', exitCode: null, restartCount: 0, startedAt: null });
      expect(listed[0]?.imageId).toBe((await t.runtime.inspectImage(t.image))?.id);
      expect(Number.isNaN(Date.parse(listed[0]?.createdAt ?? ''))).toBe(false);
      expect(await t.runtime.listContainers(`${me}-other`)).toEqual([]);
      expect(await t.runtime.inspectContainer(id)).toMatchObject({ id, running: false, restarting: false, restartCount: 0, startedAt: null, health: { status: 'none' } });
    });

    it('createContainer fails with CONTAINER_CREATE_FAILED for an image not on the engine', async () => {
      device();
      expect(await codeOf(t.runtime.createContainer(request('web', { image: t.pullable })))).toBe('CONTAINER_CREATE_FAILED');
      expect(await t.runtime.listContainers(deviceId)).toEqual([]);
    });

    it('start is idempotent; a running container has a start time, an address and its host ports', async () => {
      const me = device();
      const port = await freePort();
      const req = request('web', { ports: [{ container: 8080, host: port }] });
      const id = await t.runtime.createContainer(req);
      await t.runtime.startContainer(req.name);
      await t.runtime.startContainer(id);
      const [c] = await t.runtime.listContainers(me);
      expect(c).toMatchObject({ state: 'running', exitCode: null, restartCount: 0 });
      expect(Number.isNaN(Date.parse(c?.startedAt ?? ''))).toBe(false);
      const d = await t.runtime.inspectContainer(req.name);
      expect(d).toMatchObject({ id, running: true, restarting: false, exitCode: null, health: { status: 'none' } });
      expect(typeof d?.address).toBe('string');
      expect(d?.hostPorts).toEqual([`${port}/tcp`]);
    });

    it('start of a missing container, or of one whose executable is missing, fails with CONTAINER_START_FAILED', async () => {
      device();
      expect(await codeOf(t.runtime.startContainer(`outpost-${deviceId}-nothing`))).toBe('CONTAINER_START_FAILED');
      const req = request('broken', { command: [t.missingExecutable], restart: 'no' });
      await t.runtime.createContainer(req);
      expect(await codeOf(t.runtime.startContainer(req.name))).toBe('CONTAINER_START_FAILED');
      expect((await t.runtime.inspectContainer(req.name))?.running).toBe(false);
    });

    it('stop is idempotent, also for a missing container; a stopped container exits 0 and starts again', async () => {
      const me = device();
      const req = request('web');
      const id = await t.runtime.createContainer(req);
      await t.runtime.startContainer(id);
      await t.runtime.stopContainer(id, 5);
      await t.runtime.stopContainer(id, 5);
      await t.runtime.stopContainer(`outpost-${me}-missing`, 1);
      expect(await t.runtime.inspectContainer(id)).toMatchObject({ running: false, restarting: false, exitCode: 0 });
      expect((await t.runtime.listContainers(me))[0]).toMatchObject({ state: 'exited', exitCode: 0 });
      await t.runtime.startContainer(id);
      expect((await t.runtime.inspectContainer(id))?.running).toBe(true);
    });

    it('remove is idempotent and removes a running container; it is then gone everywhere', async () => {
      const me = device();
      const req = request('web');
      const id = await t.runtime.createContainer(req);
      await t.runtime.startContainer(id);
      await t.runtime.removeContainer(id);
      await t.runtime.removeContainer(id);
      await t.runtime.removeContainer(`outpost-${me}-missing`);
      expect(await t.runtime.inspectContainer(id)).toBeNull();
      expect(await t.runtime.listContainers(me)).toEqual([]);
      expect(await t.runtime.containerLogs(id, 10, 1024)).toBe('');
    });

    it('a program that exits: exit code, exited state and its output in the logs (tail and byte limit)', async () => {
      const me = device();
      const req = request('job', { command: ['sh', '-c', 'echo one; echo two; echo three; exit 3'], restart: 'no' });
      await t.runtime.createContainer(req);
      await t.runtime.startContainer(req.name);
      const d = await waitFor(async () => {
        const x = await t.runtime.inspectContainer(req.name);
        return x && !x.running && x.exitCode === 3 ? x : null;
      }, { timeoutMs: 20_000, description: 'job exited 3' });
      expect(d).toMatchObject({ restarting: false, restartCount: 0 });
      expect((await t.runtime.listContainers(me))[0]).toMatchObject({ state: 'exited', exitCode: 3 });
      expect(await t.runtime.containerLogs(req.name, 2, 4096)).toBe('two\nthree\n');
      expect(await t.runtime.containerLogs(req.name, 10, 6)).toBe('three\n');
    });

    it('restart policy on-failure: the restart count rises to the limit, then the container stays exited', async () => {
      const me = device();
      const req = request('crash', { command: ['sh', '-c', 'exit 1'], restart: 'on-failure', restartMaxRetries: 2 });
      await t.runtime.createContainer(req);
      await t.runtime.startContainer(req.name);
      const d = await waitFor(async () => {
        const x = await t.runtime.inspectContainer(req.name);
        return x && x.restartCount === 2 && !x.running && !x.restarting ? x : null;
      }, { timeoutMs: 30_000, description: 'two restarts, then exited' });
      expect(d.exitCode).toBe(1);
      expect((await t.runtime.listContainers(me))[0]).toMatchObject({ state: 'exited', exitCode: 1, restartCount: 2 });
    });

    it('health from the spec check: starting, then healthy when it passes, unhealthy when it keeps failing', async () => {
      device();
      // The first verdict comes one interval after the start: 2 s leaves room to see `starting` on a busy machine.
      const good = request('good', { health: { type: 'cmd', command: ['true'], intervalSeconds: 2, retries: 1 } });
      const bad = request('bad', { health: { type: 'cmd', command: ['sh', '-c', 'echo sick; exit 1'], intervalSeconds: 1, retries: 2 } });
      await t.runtime.createContainer(good);
      await t.runtime.startContainer(good.name);
      expect((await t.runtime.inspectContainer(good.name))?.health.status).toBe('starting');
      await t.runtime.createContainer(bad);
      await t.runtime.startContainer(bad.name);
      await waitFor(async () => (await t.runtime.inspectContainer(good.name))?.health.status === 'healthy', { timeoutMs: 20_000, description: 'healthy' });
      const sick = await waitFor(async () => {
        const x = await t.runtime.inspectContainer(bad.name);
        return x?.health.status === 'unhealthy' ? x : null;
      }, { timeoutMs: 20_000, description: 'unhealthy' });
      expect(sick.health.lastOutput).toBe('sick');
      expect(sick.running).toBe(true);
    });

    it('restartContainer: same container, new start, restart count unchanged; a missing one fails with CONTAINER_START_FAILED', async () => {
      device();
      const req = request('web');
      const id = await t.runtime.createContainer(req);
      await t.runtime.startContainer(id);
      const before = await t.runtime.inspectContainer(id);
      await waitFor(() => Date.now() > Date.parse(before?.startedAt ?? '') + 20, { description: 'clock moved' });
      await t.runtime.restartContainer(id, 5);
      await running(id);
      const after = await t.runtime.inspectContainer(id);
      expect(after).toMatchObject({ id, running: true, restartCount: 0 });
      expect(Date.parse(after?.startedAt ?? '')).toBeGreaterThan(Date.parse(before?.startedAt ?? ''));
      expect(await codeOf(t.runtime.restartContainer(`outpost-${deviceId}-missing`, 1))).toBe('CONTAINER_START_FAILED');
    });

    it('removeImage: false while a container uses it or when absent; true otherwise, and then it is absent', async () => {
      device();
      extra.images.push(t.pullable);
      await t.runtime.pullImage(t.pullable);
      const req = request('web', { image: t.pullable });
      await t.runtime.createContainer(req);
      expect(await t.runtime.removeImage(t.pullable)).toBe(false);
      expect(await t.runtime.inspectImage(t.pullable)).not.toBeNull();
      await t.runtime.removeContainer(req.name);
      expect(await t.runtime.removeImage(t.pullable)).toBe(true);
      expect(await t.runtime.inspectImage(t.pullable)).toBeNull();
      expect(await t.runtime.removeImage(t.pullable)).toBe(false);
    });

    it('volumeExists: false until a container mounting the named volume is created', async () => {
      device();
      const volume = `outpost-contract-${randomBytes(4).toString('hex')}`;
      extra.volumes.push(volume);
      expect(await t.runtime.volumeExists(volume)).toBe(false);
      await t.runtime.createContainer(
        request('data', {}, { mounts: [{ type: 'volume', requested: 'data', name: volume, namespace: null, target: '/data', readOnly: false }], capAdd: [] }),
      );
      expect(await t.runtime.volumeExists(volume)).toBe(true);
    });
  });
}
