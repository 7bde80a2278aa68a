import { fork, type ChildProcess } from 'node:child_process';
import { FromWorker, type SimAgentSettings, type SimContainerCreate, type SimDeviceAssignment, type ToWorker } from './sim-messages.js';
import type { SimulationConfig } from '../../agent/runtime/simulation/sim-config.js';

const WORKER_MODULE = new URL('./sim-worker.js', import.meta.url);
const STOP_GRACE_MS = 30_000;

interface WorkerState {
  child: ChildProcess;
  devices: number;
  baselineRssBytes: number | null;
  baselineHeapUsedBytes: number;
  rssBytes: number | null;
  heapUsedBytes: number;
  started: boolean;
  stopped: Promise<void>;
}

export interface PoolStats {
  workers: number;
  startedDevices: number;
  rssBytes: number;
  baselineRssBytes: number;
  /** (RSS − each worker's RSS before its first device) / devices; null until every worker reported. */
  rssPerDeviceBytes: number | null;
  /** The same for the JS heap after a GC. */
  heapPerDeviceBytes: number | null;
}

export interface PoolEvents {
  onFailure(deviceId: string | null, message: string): void;
  /** A worker exited without being asked to. */
  onWorkerExit(index: number, code: number | null, signal: NodeJS.Signals | null): void;
  /** A device's container creates, sent as it stops. */
  onCreates?(deviceId: string, creates: readonly SimContainerCreate[]): void;
}

/**
 * The worker processes of `outpost sim`: devices dealt round-robin, one
 * `start` message each, `stop` in order on shutdown (SIGKILL only after a
 * grace period). Every message from a worker is parsed (DD-029).
 */
export class SimWorkerPool {
  private readonly workers: WorkerState[] = [];
  private stopping = false;

  constructor(private readonly events: PoolEvents) {}

  async start(count: number, devices: readonly SimDeviceAssignment[], base: { stateRoot: string; agent: SimAgentSettings; simulation: SimulationConfig }): Promise<void> {
    const shares: SimDeviceAssignment[][] = Array.from({ length: count }, () => []);
    devices.forEach((d, i) => shares[i % count]?.push(d));
    await Promise.all(shares.map((share, index) => this.startWorker(index, share, base)));
  }

  private startWorker(index: number, share: SimDeviceAssignment[], base: { stateRoot: string; agent: SimAgentSettings; simulation: SimulationConfig }): Promise<void> {
    // Worker output goes to stderr: stdout carries the progress lines.
    const child = fork(WORKER_MODULE, [], { execArgv: ['--expose-gc'], stdio: ['ignore', 2, 2, 'ipc'], serialization: 'advanced' });
    let resolveStopped!: () => void;
    const state: WorkerState = {
      child,
      devices: 0,
      baselineRssBytes: null,
      baselineHeapUsedBytes: 0,
      rssBytes: null,
      heapUsedBytes: 0,
      started: false,
      stopped: new Promise((r) => (resolveStopped = r)),
    };
    this.workers[index] = state;
    return new Promise<void>((resolve, reject) => {
      child.on('message', (raw: unknown) => {
        const parsed = FromWorker.safeParse(raw);
        if (!parsed.success) return this.events.onFailure(null, `worker ${index} sent a bad message: ${parsed.error.message}`);
        const m = parsed.data;
        switch (m.type) {
          case 'ready': {
            state.baselineRssBytes = m.baselineRssBytes;
            state.baselineHeapUsedBytes = m.baselineHeapUsedBytes;
            const start: ToWorker = { type: 'start', devices: share, ...base };
            child.send(start);
            return;
          }
          case 'started':
            state.started = true;
            state.devices = m.devices;
            return resolve();
          case 'stats':
            state.rssBytes = m.rssBytes;
            state.heapUsedBytes = m.heapUsedBytes;
            state.devices = m.devices;
            return;
          case 'failed':
            return this.events.onFailure(m.deviceId, m.message);
          case 'creates':
            return this.events.onCreates?.(m.deviceId, m.creates);
          case 'stopped':
            return;
        }
      });
      child.once('exit', (code, signal) => {
        resolveStopped();
        if (!state.started) reject(new Error(`sim worker ${index} exited before its devices started (code ${code}, signal ${signal})`));
        else if (!this.stopping) this.events.onWorkerExit(index, code, signal);
      });
    });
  }

  stats(): PoolStats {
    const reported = this.workers.every((w) => w.rssBytes !== null && w.baselineRssBytes !== null);
    const rssBytes = this.workers.reduce((s, w) => s + (w.rssBytes ?? 0), 0);
    const baselineRssBytes = this.workers.reduce((s, w) => s + (w.baselineRssBytes ?? 0), 0);
    const startedDevices = this.workers.reduce((s, w) => s + w.devices, 0);
    const heapGrowth = this.workers.reduce((s, w) => s + w.heapUsedBytes - w.baselineHeapUsedBytes, 0);
    return {
      workers: this.workers.length,
      startedDevices,
      rssBytes,
      baselineRssBytes,
      rssPerDeviceBytes: reported && startedDevices > 0 ? (rssBytes - baselineRssBytes) / startedDevices : null,
      heapPerDeviceBytes: reported && startedDevices > 0 ? heapGrowth / startedDevices : null,
    };
  }

  /** Closes every simulated device (offline presence, clean DISCONNECT), then the workers. Idempotent. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.workers.map(async (w) => {
        if (w.child.exitCode === null && w.child.signalCode === null) {
          if (w.child.connected) w.child.send({ type: 'stop' } satisfies ToWorker);
          const timer = setTimeout(() => w.child.kill('SIGKILL'), STOP_GRACE_MS);
          await w.stopped;
          clearTimeout(timer);
        }
      }),
    );
  }
}
