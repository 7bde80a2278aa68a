import { createHash } from 'node:crypto';
import { sleep, systemClock, type Clock } from '../../shared/clock.js';
import { OutpostError } from '../../shared/errors.js';
import { parseImageRef, registryOf } from '../../shared/image-ref.js';
import {
  DEVICE_LABEL,
  MANAGED_LABEL,
  SPEC_HASH_LABEL,
  WORKLOAD_LABEL,
  IMAGE_LABEL,
  type ContainerCreateRequest,
  type ContainerDetail,
  type ContainerRunState,
  type ContainerRuntime,
  type ObservedContainer,
  type ObservedImage,
  type PullOptions,
} from './runtime.js';
import { parseSimulationConfig, type SimulationConfig, type SimulationConfigInput } from './simulation/sim-config.js';
import { healthCheckOf, SimProcesses, type SimContainer } from './simulation/sim-processes.js';
import { normalizeRef, SimImages } from './simulation/sim-images.js';
import { seededRandom } from '../../shared/seeded-random.js';

/** Marks every simulated image and container, so nothing simulated is ever mistaken for the real thing. */
export const SIMULATED_LABEL = 'io.outpost.simulated';


export interface SimulatedRuntimeDeps {
  clock?: Clock;
  /** Fault draws; default: seeded from config.seed. */
  random?: () => number;
}

const hex = (s: string): string => createHash('sha256').update(s).digest('hex');
/** Docker's names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`. */
const CONTAINER_NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/**
 * A SIMULATED container engine implementing the ContainerRuntime port in
 * memory: images, containers, volumes and logs of one simulated device, with
 * configurable pull and start latency, sticky pull/start faults and flaky
 * health (DD-029). It raises the same coded errors as DockerRuntime and keeps
 * Docker's semantics wherever the reconciler can tell (idempotent
 * start/stop/remove, name conflicts, label filtering, restart policies and
 * restart counts, exit codes, health-check verdicts); the runtime contract
 * suite (test/helpers/runtime-contract.ts) holds both to that.
 */
export class SimulatedRuntime implements ContainerRuntime {
  readonly config: Readonly<SimulationConfig>;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly images = new SimImages();
  private readonly processes: SimProcesses;
  private readonly containers = new Map<string, SimContainer>();
  private readonly volumes = new Set<string>();
  /** Sticky faults, drawn once per image. */
  private readonly pullFaults = new Map<string, boolean>();
  private readonly startFaults = new Map<string, boolean>();
  private nextAddress = 2;
  private closed = false;

  constructor(config: SimulationConfigInput = {}, deps: SimulatedRuntimeDeps = {}) {
    this.config = parseSimulationConfig(config);
    this.clock = deps.clock ?? systemClock;
    this.random = deps.random ?? seededRandom(this.config.seed);
    this.processes = new SimProcesses({ clock: this.clock, random: this.random, config: this.config, exists: (c) => this.containers.has(c.id) });
    for (const ref of this.config.preloadedImages) this.images.store(ref, []);
  }

  /** Stops every simulated process (timers); the simulated device is then inert. Idempotent. */
  close(): void {
    this.closed = true;
    this.processes.close();
    for (const c of this.containers.values()) this.processes.clearTimers(c);
  }

  async ping(): Promise<void> {
    if (this.closed) throw new OutpostError('RUNTIME_UNAVAILABLE', 'simulated engine closed');
  }

  async listContainers(deviceId: string): Promise<ObservedContainer[]> {
    return [...this.containers.values()]
      .filter((c) => c.labels[MANAGED_LABEL] === 'true' && c.labels[DEVICE_LABEL] === deviceId)
      .map((c) => ({
        id: c.id,
        name: c.name,
        workload: c.labels[WORKLOAD_LABEL] ?? '',
        specHash: c.labels[SPEC_HASH_LABEL] ?? '',
        image: c.labels[IMAGE_LABEL] ?? c.image,
        imageId: c.imageId,
        state: c.state,
        exitCode: c.state === 'running' || c.state === 'created' ? null : c.exitCode,
        restartCount: c.restartCount,
        startedAt: c.startedAt,
        createdAt: c.createdAt,
      }));
  }

  async inspectImage(ref: string): Promise<ObservedImage | null> {
    return this.images.inspect(ref);
  }

  async pullImage(ref: string, options: PullOptions = {}): Promise<void> {
    const parsed = parseImageRef(ref);
    if (!parsed) throw new OutpostError('IMAGE_PULL_FAILED', `not an image reference: ${ref}`);
    const registry = registryOf(parsed);
    if (this.config.unreachableRegistries.includes(registry)) {
      throw new OutpostError('IMAGE_PULL_FAILED', `pull ${ref} failed: simulated registry ${registry} unreachable: connection refused`);
    }
    const known = this.config.registryImages;
    if (known && !known.some((k) => normalizeRef(k) === normalizeRef(ref))) {
      throw new OutpostError('IMAGE_NOT_FOUND', `pull ${ref} failed: manifest unknown (simulated registry ${registry})`);
    }
    const aborted = (): OutpostError => new OutpostError('RECONCILE_ABORTED', `pull ${ref} aborted`);
    if (options.signal?.aborted) throw aborted();
    const total = 1_000_000;
    options.onProgress?.({ status: 'Pulling fs layer (simulated)', layer: 'sim0' });
    const half = this.latency(this.config.pullLatencyMs) / 2;
    await sleep(half, options.signal).catch(() => {
      throw aborted();
    });
    options.onProgress?.({ status: 'Downloading (simulated)', layer: 'sim0', current: total / 2, total });
    await sleep(half, options.signal).catch(() => {
      throw aborted();
    });
    if (this.drawOnce(this.pullFaults, normalizeRef(ref), this.config.pullFailureRate)) {
      throw new OutpostError('IMAGE_PULL_FAILED', `pull ${ref} failed: simulated pull failure: connection reset by peer`);
    }
    options.onProgress?.({ status: 'Pull complete (simulated)', layer: 'sim0', current: total, total });
    const digest = parsed.digest ?? `sha256:${hex(`manifest ${normalizeRef(ref)}`)}`;
    this.images.store(ref, [`${parsed.repository}@${digest}`]);
  }

  async createContainer(request: ContainerCreateRequest): Promise<string> {
    const existing = this.find(request.name);
    if (existing) return existing.id;
    const o = request.options;
    const fail = (why: string): OutpostError => new OutpostError('CONTAINER_CREATE_FAILED', `create ${request.name} failed: ${why}`);
    if (!CONTAINER_NAME.test(request.name)) throw fail(`Invalid container name (${request.name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    const imageRef = typeof o.Image === 'string' ? o.Image : '';
    const image = await this.inspectImage(imageRef);
    if (!image) throw fail(`No such image: ${imageRef}`);
    const host = (o.HostConfig ?? {}) as {
      PortBindings?: Record<string, { HostPort?: string }[]>;
      RestartPolicy?: { Name?: string; MaximumRetryCount?: number };
      Mounts?: { Type?: string; Source?: string }[];
    };
    for (const m of host.Mounts ?? []) if (m.Type === 'volume' && m.Source) this.volumes.add(m.Source);
    const id = hex(`${request.name} ${this.clock.now()} ${this.random()}`);
    this.containers.set(id, {
      id,
      name: request.name.replace(/^\//, ''),
      labels: { ...((o.Labels ?? {}) as Record<string, string>), [SIMULATED_LABEL]: 'true' },
      image: imageRef,
      imageId: image.id,
      argv: [...((o.Entrypoint ?? []) as string[]), ...((o.Cmd ?? []) as string[])],
      healthCheck: healthCheckOf(o.Healthcheck),
      restart: { name: host.RestartPolicy?.Name ?? '', max: host.RestartPolicy?.MaximumRetryCount ?? 0 },
      createdAt: new Date(this.clock.now()).toISOString(),
      state: 'created',
      exitCode: 0,
      startedAt: null,
      restartCount: 0,
      health: { status: 'none', lastOutput: null },
      failingStreak: 0,
      flaky: null,
      flakyStep: 0,
      hostPorts: Object.entries(host.PortBindings ?? {}).flatMap(([key, bindings]) =>
        (bindings ?? []).map((b) => `${b.HostPort ?? ''}/${key.split('/')[1] ?? 'tcp'}`),
      ),
      address: this.allocateAddress(),
      logs: [],
      run: 0,
      timers: [],
      backoffMs: 100,
    });
    return id;
  }

  async startContainer(idOrName: string): Promise<void> {
    const c = this.find(idOrName);
    if (!c) throw new OutpostError('CONTAINER_START_FAILED', `start ${idOrName} failed: No such container: ${idOrName}`);
    if (c.state === 'running' || c.state === 'restarting') return;
    await sleep(this.latency(this.config.startLatencyMs));
    if (!this.containers.has(c.id)) throw new OutpostError('CONTAINER_START_FAILED', `start ${idOrName} failed: No such container: ${idOrName}`);
    if ((c.state as ContainerRunState) === 'running') return; // a concurrent start won
    const executable = c.argv[0];
    if (executable !== undefined && this.config.missingExecutables.includes(executable)) {
      c.exitCode = 127;
      throw new OutpostError('CONTAINER_START_FAILED', `start ${idOrName} failed: simulated OCI runtime: exec: "${executable}": no such file or directory`);
    }
    if (this.drawOnce(this.startFaults, normalizeRef(c.image), this.config.startFailureRate)) {
      c.exitCode = 128;
      throw new OutpostError('CONTAINER_START_FAILED', `start ${idOrName} failed: simulated start failure: cannot start container`);
    }
    c.backoffMs = 100;
    this.processes.run(c);
  }

  async stopContainer(idOrName: string, _timeoutSeconds: number): Promise<void> {
    const c = this.find(idOrName);
    if (!c || (c.state !== 'running' && c.state !== 'restarting')) return;
    // The processes honour SIGTERM at once: the stop timeout is never reached.
    this.processes.halt(c, c.state === 'restarting' ? (c.exitCode ?? 0) : 0);
  }

  async removeContainer(idOrName: string): Promise<void> {
    const c = this.find(idOrName);
    if (!c) return;
    this.processes.clearTimers(c);
    this.containers.delete(c.id);
  }

  async inspectContainer(idOrName: string): Promise<ContainerDetail | null> {
    const c = this.find(idOrName);
    if (!c) return null;
    const running = c.state === 'running';
    return {
      id: c.id,
      running,
      restarting: c.state === 'restarting',
      exitCode: running ? null : c.exitCode,
      restartCount: c.restartCount,
      startedAt: c.startedAt,
      health: { ...c.health },
      address: running ? c.address : null,
      hostPorts: [...c.hostPorts],
    };
  }

  async containerLogs(idOrName: string, tail: number, maxBytes: number): Promise<string> {
    const c = this.find(idOrName);
    if (!c) return '';
    const text = c.logs.slice(-tail).map((l) => `${l}\n`).join('');
    return text.length > maxBytes ? text.slice(text.length - maxBytes) : text;
  }

  async restartContainer(idOrName: string, _timeoutSeconds: number): Promise<void> {
    const c = this.find(idOrName);
    if (!c) throw new OutpostError('CONTAINER_START_FAILED', `restart ${idOrName} failed: No such container: ${idOrName}`);
    if (c.state === 'running' || c.state === 'restarting') this.processes.halt(c, 0);
    await this.startContainer(c.id).catch((err: unknown) => {
      throw new OutpostError('CONTAINER_START_FAILED', `restart ${idOrName} failed: ${(err as Error).message}`, { cause: err });
    });
  }

  async removeImage(ref: string): Promise<boolean> {
    return this.images.remove(ref, (id) => [...this.containers.values()].some((c) => c.imageId === id));
  }

  async volumeExists(name: string): Promise<boolean> {
    return this.volumes.has(name);
  }

  /** Whether a simulated service at this address answers probes (http/tcp health checks): running and not flaky-unhealthy. */
  answers(address: string): boolean {
    const c = [...this.containers.values()].find((x) => x.address === address && x.state === 'running');
    return c !== undefined && (c.flaky === null || c.health.status !== 'unhealthy');
  }

  // ---- helpers -------------------------------------------------------------

  private find(idOrName: string): SimContainer | undefined {
    const byId = this.containers.get(idOrName);
    if (byId) return byId;
    const name = idOrName.replace(/^\//, '');
    for (const c of this.containers.values()) if (c.name === name || (idOrName.length >= 12 && c.id.startsWith(idOrName))) return c;
    return undefined;
  }

  private drawOnce(faults: Map<string, boolean>, key: string, rate: number): boolean {
    let fault = faults.get(key);
    if (fault === undefined) {
      fault = rate > 0 && this.random() < rate;
      faults.set(key, fault);
    }
    return fault;
  }

  private latency(meanMs: number): number {
    return meanMs === 0 ? 0 : Math.round(meanMs * (0.5 + this.random()));
  }

  private allocateAddress(): string {
    const n = this.nextAddress++;
    return `10.88.${(n >> 8) & 255}.${n & 255}`;
  }
}
