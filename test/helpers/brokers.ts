import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { DeviceCredentials } from '../../shared/device-credentials.js';
import { CLI } from './agent-process.js';
import { freePort } from './free-port.js';
import { PORT_TAKEN } from './server-ready.js';
import { testBrokerKind } from './broker-mode.js';
import { startMosquitto, type MosquittoServer } from './mosquitto.js';
import { startMosquittoDynsecServer, type DynsecFixtureOptions, type MosquittoDynsecServer } from './mosquitto-dynsec.js';
import { spawnProcess, type ManagedProcess } from './process.js';
import { startRedis, type RedisServer } from './redis.js';

export const SERVICE_USERNAME = 'svc:outpost';

/** A broker the device plane runs on, as the tests see it. */
export interface BrokerFixture {
  readonly kind: 'aedes' | 'mosquitto' | 'mosquitto-dynsec';
  readonly url: string;
  /** Credentials of the service identity (the controller). */
  readonly serviceAuth: { username?: string; password?: string };
  /** Creates device credentials and returns the secret (any secret works on the test Mosquitto). */
  enroll(deviceId: string): Promise<string>;
  kill9(): Promise<void>;
  /** Starts the broker again on the same port and persistent state. */
  restart(): Promise<void>;
  /** Mosquitto's persistence file (rewritten after changes: autosave_interval 1 + autosave_on_changes). */
  readonly persistenceFile?: string;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Outpost's aedes broker as a child process (`outpost broker`) on its own Redis.
 *
 * This is the device-plane broker of the end-to-end suite: with
 * OUTPOST_TEST_BROKER=mosquitto-dynsec (test/helpers/broker-mode.ts) and no
 * aedes-only option, it starts Mosquitto with dynamic security instead
 * (startMosquittoDynsecFixture), so the same tests run on both. Its `redis`
 * is then absent: a test that reaches for it is aedes-only.
 */
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
  const aedesOnly = opts.redis !== undefined || opts.extraArgs !== undefined || opts.brokerRedisUrl !== undefined;
  if (!aedesOnly && testBrokerKind() === 'mosquitto-dynsec') {
    const fixture = await startMosquittoDynsecFixture();
    return Object.defineProperty(fixture, 'redis', {
      get(): never {
        throw new Error('this test uses the Redis of Outpost\'s broker: it cannot run with OUTPOST_TEST_BROKER=mosquitto-dynsec');
      },
    }) as unknown as BrokerFixture & { redis: RedisServer };
  }
  const redis = opts.redis ?? (await startRedis());
  const ownsRedis = !opts.redis;
  let port = await freePort();
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
  // The free port may be taken between freePort() and the broker's listen (an outgoing connection's
  // ephemeral port, another test's server): the first start moves to another one. Restarts keep theirs.
  for (let attempt = 1; ; attempt++) {
    try {
      await launch();
      break;
    } catch (err) {
      if (attempt >= 3 || !PORT_TAKEN.test((err as Error).message)) throw err;
      port = await freePort();
    }
  }
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

/** How a controller reaches a broker's admin API (mosquitto-dynsec mode), for the helpers that start controllers. */
export interface BrokerAdminSettings {
  readonly brokerAdmin: 'mosquitto-dynsec';
  readonly brokerAdminUsername: string;
  readonly brokerAdminPassword: string;
}

/** Admin settings of the dynsec brokers running in this test process, by URL. */
const adminByUrl = new Map<string, BrokerAdminSettings>();

/** The admin settings a controller needs for the broker at `url`, if it is a dynsec fixture. */
export function brokerAdminFor(url: string): BrokerAdminSettings | undefined {
  return adminByUrl.get(url);
}

/** The same as controller flags and environment (`outpost controller`; the password travels in the environment, DD-025). */
export function brokerAdminProcessArgs(url: string): { args: string[]; env: Record<string, string> } {
  const a = adminByUrl.get(url);
  if (!a) return { args: [], env: {} };
  return {
    args: ['--broker-admin', a.brokerAdmin, '--broker-admin-username', a.brokerAdminUsername],
    env: { OUTPOST_BROKER_ADMIN_PASSWORD: a.brokerAdminPassword },
  };
}

/**
 * Mosquitto 2.0 with the dynamic-security plugin (DD-030): devices are
 * enrolled as dynsec clients with the controller's own code, the service
 * identity exists with its role, and controllers started on it by the other
 * helpers (startControlPlane, startControllerProcess, startInProcessControlPlane)
 * run with --broker-admin mosquitto-dynsec.
 */
export async function startMosquittoDynsecFixture(
  opts: DynsecFixtureOptions = {},
): Promise<BrokerFixture & { dynsec: MosquittoDynsecServer; server: MosquittoServer; serviceAuth: { username: string; password: string } }> {
  const dynsec = await startMosquittoDynsecServer(opts);
  adminByUrl.set(dynsec.url, { brokerAdmin: 'mosquitto-dynsec', brokerAdminUsername: dynsec.admin.username, brokerAdminPassword: dynsec.admin.password });
  return {
    kind: 'mosquitto-dynsec',
    url: dynsec.url,
    dynsec,
    server: dynsec.server,
    persistenceFile: dynsec.server.persistenceFile,
    serviceAuth: { ...dynsec.service },
    enroll: (deviceId) => dynsec.enroll(deviceId),
    kill9: () => dynsec.server.kill9(),
    restart: () => dynsec.server.restart(),
    output: () => dynsec.server.output(),
    async stop() {
      adminByUrl.delete(dynsec.url);
      await dynsec.stop();
    },
  };
}
