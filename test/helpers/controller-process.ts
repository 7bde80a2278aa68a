import { randomBytes } from 'node:crypto';
import { checkBrokerConfig } from '../../broker/config.js';
import { createBroker } from '../../broker/create-broker.js';
import { silentLogger } from '../../shared/logger.js';
import { CLI } from './agent-process.js';
import { freePort } from './free-port.js';
import { spawnProcess, type ManagedProcess } from './process.js';
import { startRedis, type RedisServer } from './redis.js';

export interface ControllerProcessOptions {
  name: string;
  redisUrl: string;
  brokerUrl: string;
  servicePassword: string;
  adminToken: string;
  /** Fixed API port (e.g. the same one again after a restart); a free one when omitted. */
  apiPort?: number;
  extraArgs?: readonly string[];
}

export interface ControllerProcess {
  readonly proc: ManagedProcess;
  readonly apiUrl: string;
  readonly apiPort: number;
}

/** A real `outpost controller` process (controller + API), started and listening. */
export async function startControllerProcess(opts: ControllerProcessOptions): Promise<ControllerProcess> {
  const apiPort = opts.apiPort ?? (await freePort());
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
      ...(opts.extraArgs ?? []),
    ],
    env: { OUTPOST_SERVICE_PASSWORD: opts.servicePassword, OUTPOST_ADMIN_TOKEN: opts.adminToken },
    bufferLines: 600,
  });
  await proc.waitForLine(/"msg":"api listening"/, 30_000).catch((err: unknown) => {
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
  close(): Promise<void>;
}

/** Redis (AOF) and Outpost's broker in the test process, for controllers run as child processes. */
export async function startBrokerRig(): Promise<BrokerRig> {
  const redis = await startRedis({ appendonly: true });
  const servicePassword = randomBytes(16).toString('hex');
  const checked = checkBrokerConfig({ host: '127.0.0.1', port: 0, redisUrl: redis.url, servicePassword, logLevel: 'silent' });
  if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
  const broker = await createBroker(checked.config, { logger: silentLogger() });
  const { port } = await broker.listen();
  return {
    redis,
    brokerUrl: `mqtt://127.0.0.1:${port}`,
    servicePassword,
    serviceAuth: { username: 'svc:outpost', password: servicePassword },
    adminToken: randomBytes(16).toString('hex'),
    async close() {
      await broker.close();
      await redis.stop();
    },
  };
}
