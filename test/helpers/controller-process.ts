import { randomBytes } from 'node:crypto';
import { checkBrokerConfig } from '../../broker/config.js';
import { createBroker, type OutpostBroker } from '../../broker/create-broker.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import { CLI } from './agent-process.js';
import { freePort } from './free-port.js';
import { PORT_TAKEN } from './server-ready.js';
import { spawnProcess, type ManagedProcess } from './process.js';
import { testBrokerKind } from './broker-mode.js';
import { brokerAdminProcessArgs, startMosquittoDynsecFixture } from './brokers.js';
import type { MosquittoDynsecServer } from './mosquitto-dynsec.js';
import { startRedis, type RedisServer, type StartRedisOptions } from './redis.js';

export interface ControllerProcessOptions {
  name: string;
  redisUrl: string;
  brokerUrl: string;
  servicePassword: string;
  adminToken: string;
  /** Fixed API port (e.g. the same one again after a restart); a free one when omitted. */
  apiPort?: number;
  extraArgs?: readonly string[];
  /** Extra environment, e.g. OUTPOST_FAILPOINTS for crash tests. */
  env?: Readonly<Record<string, string>>;
  /** Output lines kept (default 600); raise it to keep a whole run's output. */
  bufferLines?: number;
}

export interface ControllerProcess {
  readonly proc: ManagedProcess;
  readonly apiUrl: string;
  readonly apiPort: number;
}

/** A real `outpost controller` process (controller + API), started and listening. */
export async function startControllerProcess(opts: ControllerProcessOptions): Promise<ControllerProcess> {
  // A free port may be taken before the controller listens on it: then another one (not for a port the test chose).
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchControllerProcess(opts, opts.apiPort ?? (await freePort()));
    } catch (err) {
      if (opts.apiPort !== undefined || attempt >= 3 || !PORT_TAKEN.test((err as Error).message)) throw err;
    }
  }
}

async function launchControllerProcess(opts: ControllerProcessOptions, apiPort: number): Promise<ControllerProcess> {
  // On a dynsec fixture the controller manages its clients (DD-030).
  const admin = brokerAdminProcessArgs(opts.brokerUrl);
  const proc = spawnProcess(process.execPath, {
    name: opts.name,
    args: [
      CLI,
      'controller',
      '--redis',
      opts.redisUrl,
      '--broker',
      opts.brokerUrl,
      '--api-port',
      String(apiPort),
      '--anti-entropy-interval',
      '0',
      '--log-level',
      'info',
      ...admin.args,
      ...(opts.extraArgs ?? []),
    ],
    env: { OUTPOST_SERVICE_PASSWORD: opts.servicePassword, OUTPOST_ADMIN_TOKEN: opts.adminToken, ...admin.env, ...opts.env },
    bufferLines: opts.bufferLines ?? 600,
  });
  await proc.waitForLine(/"msg":"api listening"/, 30_000).catch(async (err: unknown) => {
    await proc.stop();
    throw new Error(`controller did not start: ${(err as Error).message}\n${proc.output()}`);
  });
  return { proc, apiUrl: `http://127.0.0.1:${apiPort}`, apiPort };
}

export interface BrokerRig {
  readonly redis: RedisServer;
  readonly brokerUrl: string;
  readonly servicePassword: string;
  readonly serviceAuth: { username: string; password: string };
  readonly adminToken: string;
  /** Stops the broker (its sessions, queues and retained documents stay in Redis). */
  stopBroker(): Promise<void>;
  /** Starts a broker again on the same port and Redis. */
  startBroker(): Promise<void>;
  /** Mosquitto with dynamic security, when the suite runs on it (OUTPOST_TEST_BROKER=mosquitto-dynsec). */
  readonly dynsec?: MosquittoDynsecServer;
  close(): Promise<void>;
}

/**
 * Redis (AOF) and Outpost's broker in the test process, for controllers run as
 * child processes; with OUTPOST_TEST_BROKER=mosquitto-dynsec, Mosquitto with
 * dynamic security instead (controllers started on it manage its clients).
 */
export async function startBrokerRig(opts: { redis?: StartRedisOptions; logger?: Logger } = {}): Promise<BrokerRig> {
  const logger = opts.logger ?? silentLogger();
  const redis = await startRedis({ appendonly: true, ...opts.redis });
  if (testBrokerKind() === 'mosquitto-dynsec') return dynsecBrokerRig(redis);
  const servicePassword = randomBytes(16).toString('hex');
  const configFor = (port: number) => {
    const checked = checkBrokerConfig({ host: '127.0.0.1', port, redisUrl: redis.url, servicePassword, logLevel: 'silent' });
    if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
    return checked.config;
  };
  let broker: OutpostBroker | null = await createBroker(configFor(0), { logger });
  const { port } = await broker.listen();
  return {
    redis,
    brokerUrl: `mqtt://127.0.0.1:${port}`,
    servicePassword,
    serviceAuth: { username: 'svc:outpost', password: servicePassword },
    adminToken: randomBytes(16).toString('hex'),
    async stopBroker() {
      await broker?.close();
      broker = null;
    },
    async startBroker() {
      if (broker) return;
      broker = await createBroker(configFor(port), { logger });
      await broker.listen();
    },
    async close() {
      await broker?.close();
      await redis.stop();
    },
  };
}

async function dynsecBrokerRig(redis: RedisServer): Promise<BrokerRig> {
  // The service identity exists before any controller: tests watch the broker as it first.
  const fixture = await startMosquittoDynsecFixture();
  let down = false;
  return {
    redis,
    brokerUrl: fixture.url,
    servicePassword: fixture.serviceAuth.password,
    serviceAuth: fixture.serviceAuth,
    adminToken: randomBytes(16).toString('hex'),
    dynsec: fixture.dynsec,
    async stopBroker() {
      await fixture.server.terminate();
      down = true;
    },
    async startBroker() {
      if (!down) return;
      await fixture.restart();
      down = false;
    },
    async close() {
      await fixture.stop();
      await redis.stop();
    },
  };
}
