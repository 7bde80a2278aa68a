import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../../cli/client/api-client.js';
import { startEmbeddedRedis, type EmbeddedRedis } from '../../controller/embedded-redis.js';
import { silentLogger } from '../../shared/logger.js';
import { startBenchChild, waitUntil, type BenchChild } from '../lib/child-process.js';
import { freePort } from '../lib/free-port.js';

const CLI = new URL('../../cli/main.js', import.meta.url).pathname;

export interface ChaosClusterOptions {
  brokers: number;
  /** The brokers' --max-queued-messages: small, so a long offline goes past it (F8). */
  maxQueuedMessages: number;
  rolloutPollSeconds: number;
}

/** A process of the control plane the run may kill and start again on the same port. */
interface Supervised {
  readonly name: string;
  child: BenchChild | null;
  /** Set while the run itself has it down: its exit is expected. */
  down: boolean;
  start(): Promise<void>;
}

export interface ProcessExit {
  name: string;
  /** The last lines it printed. */
  output: string;
}

const portOpen = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

/**
 * The chaos run's control plane (DD-046 topology): one Redis with AOF, N
 * `outpost broker` processes on it (persistence + Redis emitter), and an
 * `outpost controller` on the last broker, each a child process that the
 * run kills with SIGKILL (or, for Redis, restarts) and starts again on the
 * same port. A process that exits when the run did not stop it is restarted
 * too, and listed in `unexpectedExits`.
 */
export class ChaosCluster {
  readonly servicePassword = randomBytes(16).toString('hex');
  readonly adminToken = randomBytes(16).toString('hex');
  readonly unexpectedExits: ProcessExit[] = [];
  readonly brokerPorts: number[] = [];
  client!: ApiClient;
  private redis: EmbeddedRedis | null = null;
  private redisPort = 0;
  private readonly redisPassword = randomBytes(16).toString('hex');
  private readonly brokers: Supervised[] = [];
  private controller!: Supervised;
  private closing = false;

  private constructor(
    private readonly dir: string,
    private readonly options: ChaosClusterOptions,
  ) {}

  static async start(options: ChaosClusterOptions): Promise<ChaosCluster> {
    const cluster = new ChaosCluster(await mkdtemp(join(tmpdir(), 'outpost-chaos-')), options);
    try {
      await cluster.boot();
      return cluster;
    } catch (err) {
      await cluster.close();
      throw err;
    }
  }

  get redisUrl(): string {
    return `redis://:${this.redisPassword}@127.0.0.1:${this.redisPort}`;
  }

  brokerUrl(i: number): string {
    return `mqtt://127.0.0.1:${this.brokerPorts[i] ?? 0}`;
  }

  private async boot(): Promise<void> {
    this.redisPort = await freePort();
    await this.startRedis();
    for (let i = 0; i < this.options.brokers; i++) {
      const port = await freePort();
      this.brokerPorts.push(port);
      const node = this.supervise(`broker ${String.fromCharCode(65 + i)}`, async (s) => {
        this.spawn(s, ['broker', '--host', '127.0.0.1', '--port', String(port), '--max-queued-messages', String(this.options.maxQueuedMessages), '--log-level', 'warn'], {
          REDIS_URL: this.redisUrl,
          OUTPOST_SERVICE_PASSWORD: this.servicePassword,
        });
        await waitUntil(`${s.name} listening`, () => portOpen(port), 30_000, 100);
      });
      this.brokers.push(node);
      await node.start();
    }
    const apiPort = await freePort();
    this.client = new ApiClient({ baseUrl: `http://127.0.0.1:${apiPort}`, token: this.adminToken, timeoutMs: 15_000 });
    this.controller = this.supervise('controller', async (s) => {
      this.spawn(
        s,
        ['controller', '--broker', this.brokerUrl(this.options.brokers - 1), '--api-port', String(apiPort), '--rollout-poll', String(this.options.rolloutPollSeconds), '--log-level', 'warn'],
        { REDIS_URL: this.redisUrl, OUTPOST_SERVICE_PASSWORD: this.servicePassword, OUTPOST_ADMIN_TOKEN: this.adminToken },
      );
      // One that exits while starting (Redis away) is started again by spawn()'s watch: wait for whichever answers.
      await waitUntil('the controller API', () => this.client.fleet().then(() => true, () => false), 90_000, 200);
    });
    await this.controller.start();
  }

  /** Starts, and restarts after an exit the run did not cause (recorded), also one during start-up. */
  private supervise(name: string, start: (s: Supervised) => Promise<void>): Supervised {
    const s: Supervised = {
      name,
      child: null,
      down: false,
      start: async () => {
        s.down = false;
        await start(s);
      },
    };
    return s;
  }

  /** Spawns a supervised process; its unasked exit is recorded and it starts again a second later. */
  private spawn(s: Supervised, args: readonly string[], env: Record<string, string>): BenchChild {
    const child = startBenchChild(process.execPath, [CLI, ...args], env);
    s.child = child;
    child.proc.once('exit', () => {
      if (s.down || this.closing || s.child !== child) return;
      this.unexpectedExits.push({ name: s.name, output: child.output().slice(-4000) });
      setTimeout(() => void s.start().catch(() => undefined), 1000);
    });
    return child;
  }

  private async startRedis(): Promise<void> {
    this.redis = await startEmbeddedRedis({ dataDir: this.dir, port: this.redisPort, password: this.redisPassword, logger: silentLogger() });
  }

  /** kill -9 of one broker node, started again after `downMs` (F1). */
  async killBroker(i: number, downMs: number, signal?: AbortSignal): Promise<void> {
    const node = this.brokers[i];
    if (!node) throw new Error(`no broker ${i}`);
    await this.kill9(node);
    await pause(downMs, signal);
    await node.start();
  }

  /** kill -9 of the controller, started again after `downMs` (F3). */
  async killController(downMs: number, signal?: AbortSignal): Promise<void> {
    await this.kill9(this.controller);
    await pause(downMs, signal);
    await this.controller.start();
  }

  /** Redis stops (SIGTERM: the AOF is flushed, as on a restart or failover) and comes back on the same port and data after `downMs` (F2). */
  async restartRedis(downMs: number, signal?: AbortSignal): Promise<void> {
    await this.redis?.stop();
    this.redis = null;
    await pause(downMs, signal);
    await this.startRedis();
  }

  private async kill9(s: Supervised): Promise<void> {
    s.down = true;
    const child = s.child;
    if (!child) return;
    child.proc.kill('SIGKILL');
    await child.stop();
  }

  /** Starts whatever is down (a restart that failed during the run), so the run can heal. */
  async ensureRunning(): Promise<void> {
    if (!this.redis) await this.startRedis();
    for (const s of [...this.brokers, this.controller]) {
      const exited = s.child === null || s.child.proc.exitCode !== null || s.child.proc.signalCode !== null;
      if (exited) await s.start();
    }
  }

  /** Output of every control plane process (for a failure). */
  outputs(): Record<string, string> {
    return Object.fromEntries([...this.brokers, this.controller].filter((s) => s?.child).map((s) => [s.name, s.child?.output() ?? '']));
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.controller?.child?.stop();
    for (const b of this.brokers) await b.child?.stop();
    await this.redis?.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Sleeps `ms`, cut short (not failed) when the run ends. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
