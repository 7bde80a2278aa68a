import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { checkBrokerConfig } from '../../broker/config.js';
import { createBroker } from '../../broker/create-broker.js';
import { parseControllerConfig } from '../../controller/config.js';
import { createController, type Controller } from '../../controller/create-controller.js';
import { startEmbeddedRedis } from '../../controller/embedded-redis.js';
import { Keys } from '../../controller/registry/keys.js';
import { silentLogger } from '../../shared/logger.js';
import { freePort } from './free-port.js';

export interface BenchControlPlane {
  readonly controller: Controller;
  /** A connection of the benchmark's own to the control plane's Redis. */
  readonly redis: Redis;
  readonly keys: Keys;
  readonly brokerUrl: string;
  close(): Promise<void>;
}

/** A private Redis (in a temporary directory), Outpost's broker and a started controller, in this process. */
export async function startBenchControlPlane(): Promise<BenchControlPlane> {
  const logger = silentLogger();
  const dir = await mkdtemp(join(tmpdir(), 'outpost-bench-'));
  const redisServer = await startEmbeddedRedis({ dataDir: dir, port: await freePort(), password: randomBytes(16).toString('hex'), logger });
  const servicePassword = randomBytes(16).toString('hex');
  const bc = checkBrokerConfig({ host: '127.0.0.1', port: 0, redisUrl: redisServer.url, servicePassword, logLevel: 'silent' });
  if (!bc.ok) throw new Error(JSON.stringify(bc.issues));
  const broker = await createBroker(bc.config, { logger });
  const { port } = await broker.listen();
  const brokerUrl = `mqtt://127.0.0.1:${port}`;
  const controller = createController(
    parseControllerConfig({
      redisUrl: redisServer.url,
      brokerUrl,
      servicePassword,
      adminTokens: [randomBytes(16).toString('hex')],
      antiEntropyIntervalSeconds: 0,
      // Documents are armed for DD-062's check but never due during a run: benchmarks measure the check themselves.
      receiptGraceSeconds: 86_400,
    }),
    { logger },
  );
  await controller.start();
  const redis = new Redis(redisServer.url);
  return {
    controller,
    redis,
    keys: new Keys('outpost:'),
    brokerUrl,
    async close() {
      redis.disconnect();
      await controller.close();
      await broker.close();
      await redisServer.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Runs a benchmark's main, printing its error and setting a failing exit code. */
export function runBench(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  });
}
