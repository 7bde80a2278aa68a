import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { DeviceCredentials } from '../../shared/device-credentials.js';
import { CLI } from './agent-process.js';
import { freePort } from './free-port.js';
import { startMosquitto, type MosquittoServer } from './mosquitto.js';
import { spawnProcess, type ManagedProcess } from './process.js';
import { startRedis, type RedisServer } from './redis.js';

export const SERVICE_USERNAME = 'svc:outpost';

/** A broker the device plane runs on, as the tests see it. */
export interface BrokerFixture {
  readonly kind: 'aedes' | 'mosquitto';
  readonly url: string;
  /** Credentials of the service identity (the controller). */
  readonly serviceAuth: { username?: string; password?: string };
  /** Creates device credentials and returns the secret (any secret works on the test Mosquitto). */
  enroll(deviceId: string): Promise<string>;
  kill9(): Promise<void>;
  /** Starts the broker again on the same port and persistent state. */
  restart(): Promise<void>;
  output(): string;
  stop(): Promise<void>;
}

/** Outpost's aedes broker as a child process (`outpost broker`) on its own Redis. */
export async function startAedesFixture(
  opts: {
    redis?: RedisServer;
    extraArgs?: string[];
    /** URL the broker uses instead of redis.url (e.g. a delay proxy). */
    brokerRedisUrl?: string;
    /** Output lines kept (default 400); raise it to keep a whole run's output. */
    bufferLines?: number;
  } = {},
): Promise<BrokerFixture & { redis: RedisServer }> {
  const redis = opts.redis ?? (await startRedis());
  const ownsRedis = !opts.redis;
  const port = await freePort();
  const servicePassword = randomBytes(12).toString('hex');
  let proc: ManagedProcess | null = null;
  const launch = async (): Promise<void> => {
    proc = spawnProcess(process.execPath, {
      name: `broker :${port}`,
      args: [CLI, 'broker', '--host', '127.0.0.1', '--port', String(port), '--redis', opts.brokerRedisUrl ?? redis.url, '--log-level', 'info', ...(opts.extraArgs ?? [])],
      env: { OUTPOST_SERVICE_PASSWORD: servicePassword },
      bufferLines: opts.bufferLines ?? 400,
    });
    const p = proc;
    await p.waitForLine(/broker listening/, 20_000).catch((err: unknown) => {
      throw new Error(`broker did not start: ${(err as Error).message}\n${p.output()}`);
    });
  };
  await launch();
  const credsRedis = new Redis(redis.url, { lazyConnect: false, maxRetriesPerRequest: 3 });
  const creds = new DeviceCredentials(credsRedis, 'outpost:');
  return {
    kind: 'aedes',
    url: `mqtt://127.0.0.1:${port}`,
    redis,
    serviceAuth: { username: SERVICE_USERNAME, password: servicePassword },
    enroll: (deviceId) => creds.issue(deviceId),
    async kill9() {
      const p = proc as ManagedProcess | null;
      if (!p) return;
      p.kill('SIGKILL');
      await p.waitForExit(10_000);
      proc = null;
    },
    async restart() {
      const p = proc as ManagedProcess | null;
      if (p) await p.stop();
      await launch();
    },
    output: () => (proc as ManagedProcess | null)?.output() ?? '',
    async stop() {
      const p = proc as ManagedProcess | null;
      if (p) await p.stop();
      proc = null;
      credsRedis.disconnect();
      if (ownsRedis) await redis.stop();
    },
  };
}

/** Stock Mosquitto 2.0 with disk persistence: a broker no one here wrote. */
export async function startMosquittoFixture(): Promise<BrokerFixture & { server: MosquittoServer }> {
  const server = await startMosquitto();
  return {
    kind: 'mosquitto',
    url: server.url,
    server,
    serviceAuth: {},
    enroll: async () => randomBytes(16).toString('base64url'),
    kill9: () => server.kill9(),
    restart: () => server.restart(),
    output: () => server.output(),
    stop: () => server.stop(),
  };
}
