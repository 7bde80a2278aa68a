import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../../cli/client/api-client.js';
import { startEmbeddedRedis } from '../../controller/embedded-redis.js';
import { silentLogger } from '../../shared/logger.js';
import { cpuSeconds, startBenchChild, waitUntil, type BenchChild } from './child-process.js';
import { freePort } from './free-port.js';

const CLI = new URL('../../cli/main.js', import.meta.url).pathname;

export interface ProcessControlPlaneOptions {
  /** The controller's --rollout-poll (seconds; production default 2). */
  rolloutPollSeconds?: number;
}

export interface ControlPlaneCpu {
  controllerS: number;
  brokerS: number;
}

export interface ProcessControlPlane {
  readonly apiUrl: string;
  readonly adminToken: string;
  readonly client: ApiClient;
  readonly brokerUrl: string;
  /** The service identity's password (svc:outpost), for the benchmark's own MQTT observer. */
  readonly servicePassword: string;
  /** CPU seconds the controller and broker processes used so far. */
  cpu(): ControlPlaneCpu;
  close(): Promise<void>;
}

/**
 * The control plane as `outpost up` runs it, each part its own process: a
 * private redis-server (temporary directory), `outpost broker` and
 * `outpost controller` (with its HTTP API) as child processes, so their CPU
 * can be read apart from the benchmark's and the simulator's.
 */
export async function startProcessControlPlane(options: ProcessControlPlaneOptions = {}): Promise<ProcessControlPlane> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-bench-'));
  const redis = await startEmbeddedRedis({ dataDir: dir, port: await freePort(), password: randomBytes(16).toString('hex'), logger: silentLogger() });
  const servicePassword = randomBytes(16).toString('hex');
  const adminToken = randomBytes(16).toString('hex');
  const children: BenchChild[] = [];
  const close = async (): Promise<void> => {
    for (const c of children.reverse()) await c.stop();
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const brokerPort = await freePort();
    const broker = startBenchChild(process.execPath, [CLI, 'broker', '--host', '127.0.0.1', '--port', String(brokerPort), '--log-level', 'warn'], {
      REDIS_URL: redis.url,
      OUTPOST_SERVICE_PASSWORD: servicePassword,
    });
    children.push(broker);
    const brokerUrl = `mqtt://127.0.0.1:${brokerPort}`;
    const apiPort = await freePort();
    const controller = startBenchChild(
      process.execPath,
      [CLI, 'controller', '--broker', brokerUrl, '--api-port', String(apiPort), '--rollout-poll', String(options.rolloutPollSeconds ?? 2), '--log-level', 'warn'],
      { REDIS_URL: redis.url, OUTPOST_SERVICE_PASSWORD: servicePassword, OUTPOST_ADMIN_TOKEN: adminToken },
    );
    children.push(controller);
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    // A deployment to 10,000 devices answers once every document is stored and published; while the whole
    // simulated fleet connects on the same 2 cores that took more than the CLI's 30 s once.
    const client = new ApiClient({ baseUrl: apiUrl, token: adminToken, timeoutMs: 300_000 });
    await waitUntil(
      'the controller API',
      async () => {
        if (controller.proc.exitCode !== null || broker.proc.exitCode !== null) {
          throw new Error(`a control plane process exited:\nbroker: ${broker.output()}\ncontroller: ${controller.output()}`);
        }
        return client.fleet().then(
          () => true,
          () => false,
        );
      },
      60_000,
      200,
    );
    return {
      apiUrl,
      adminToken,
      client,
      brokerUrl,
      servicePassword,
      cpu: () => ({ controllerS: cpuSeconds(controller.pid), brokerS: cpuSeconds(broker.pid) }),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
