import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { checkBrokerConfig, type BrokerConfigInput } from '../../broker/config.js';
import { createBroker, type OutpostBroker } from '../../broker/create-broker.js';
import { parseControllerConfig, type ControllerConfigInput } from '../../controller/config.js';
import { createController, type Controller, type ControllerDeps } from '../../controller/create-controller.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import { testBrokerKind, type TestBrokerKind } from './broker-mode.js';
import { brokerAdminFor, startMosquittoDynsecFixture } from './brokers.js';
import { persistenceProbe } from './persistence-probe.js';
import { startRedis, type RedisServer } from './redis.js';

export interface ControlPlaneRig {
  readonly redis: RedisServer;
  /** Outpost's broker; absent (throws) when the suite runs on Mosquitto (OUTPOST_TEST_BROKER=mosquitto-dynsec). */
  readonly broker: OutpostBroker;
  /** Closes the broker and starts a new one on the same port and Redis (as after a crash). */
  restartBroker(): Promise<void>;
  /**
   * Restarts the broker with its retained store lost (as after a lost disk): Outpost's broker with
   * its retained hash deleted from Redis; Mosquitto with its persistence file deleted, which loses
   * its sessions and queues as well (its dynsec file, the credentials, stays).
   */
  restartBrokerWithoutRetained(): Promise<void>;
  /** Stops the broker without starting it again (Mosquitto rig only; restartBroker() brings it back). */
  stopBroker?(): Promise<void>;
  /** Mosquitto's own log lines (Mosquitto rig only). */
  brokerOutput?(): string;
  /** Closes the controller and starts a fresh one on the same Redis and broker. */
  restartController(): Promise<void>;
  readonly brokerUrl: string;
  readonly controller: Controller;
  readonly serviceAuth: { username: string; password: string };
  readonly adminToken: string;
  close(): Promise<void>;
}

export interface ControlPlaneOptions {
  redis?: RedisServer;
  controller?: Partial<ControllerConfigInput>;
  logger?: Logger;
  /** The broker to run on; default from OUTPOST_TEST_BROKER (test/helpers/broker-mode.ts). */
  brokerKind?: TestBrokerKind;
  /** Outpost's broker seals its stored packets with this key file (DD-047); Mosquitto keeps its own file and ignores it. */
  brokerStoreKeyFile?: string;
  /** Controller dependencies (e.g. failpoints), for every controller the rig starts. */
  deps?: Omit<ControllerDeps, 'logger'>;
  /** More settings of Outpost's broker (e.g. its limits), kept across restartBroker(); Mosquitto ignores them. */
  broker?: Partial<BrokerConfigInput>;
  /** More mosquitto.conf lines when the rig runs on Mosquitto (after the test defaults, so they win); Outpost's broker ignores them. */
  mosquittoConfig?: readonly string[];
}

/**
 * A real control plane in the test process: its own Redis (AOF), Outpost's
 * broker on a random loopback port, and a started controller connected to it.
 * The HTTP API is built on top by the tests that need it.
 */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlaneRig> {
  if ((opts.brokerKind ?? testBrokerKind()) === 'mosquitto-dynsec') return startDynsecControlPlane(opts);
  const logger = opts.logger ?? silentLogger();
  const redis = opts.redis ?? (await startRedis({ appendonly: true }));
  const servicePassword = randomBytes(16).toString('hex');
  const sealing = { ...opts.broker, ...(opts.brokerStoreKeyFile === undefined ? {} : { storeKeyFile: opts.brokerStoreKeyFile }) };
  const checked = checkBrokerConfig({ host: '127.0.0.1', port: 0, redisUrl: redis.url, servicePassword, logLevel: 'silent', ...sealing });
  if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
  let broker = await createBroker(checked.config, { logger });
  const { port } = await broker.listen();
  const brokerUrl = `mqtt://127.0.0.1:${port}`;
  const adminToken = randomBytes(16).toString('hex');
  const makeController = () =>
    createController(
      parseControllerConfig({
        redisUrl: redis.url,
        brokerUrl,
        servicePassword,
        adminTokens: [adminToken],
        apiPort: 0,
        antiEntropyIntervalSeconds: 0,
        ...opts.controller,
      }),
      { ...opts.deps, logger },
    );
  let controller = makeController();
  await controller.start();
  const restartBroker = async (): Promise<void> => {
    await broker.close();
    const config = checkBrokerConfig({ host: '127.0.0.1', port, redisUrl: redis.url, servicePassword, logLevel: 'silent', ...sealing });
    if (!config.ok) throw new Error(JSON.stringify(config.issues));
    broker = await createBroker(config.config, { logger });
    await broker.listen();
  };
  return {
    redis,
    get broker() {
      return broker;
    },
    brokerUrl,
    get controller() {
      return controller;
    },
    restartBroker,
    async restartController() {
      await controller.close();
      controller = makeController();
      await controller.start();
    },
    async restartBrokerWithoutRetained() {
      const client = new Redis(redis.url);
      try {
        // The broker runs the default persistence (DD-028).
        const { retainedKey } = persistenceProbe('outpost', client);
        if ((await client.hlen(retainedKey)) === 0) throw new Error('the broker holds no retained message to lose');
        await client.del(retainedKey);
      } finally {
        client.disconnect();
      }
      await restartBroker();
    },
    serviceAuth: { username: 'svc:outpost', password: servicePassword },
    adminToken,
    async close() {
      await controller.close();
      await broker.close();
      if (!opts.redis) await redis.stop();
    },
  };
}

/**
 * The same rig on Mosquitto with dynamic security (DD-030): the controller
 * manages device clients as --broker-admin mosquitto-dynsec and creates its
 * own service identity there; restartBroker() restarts Mosquitto on its
 * persistence and dynsec file.
 */
async function startDynsecControlPlane(opts: ControlPlaneOptions): Promise<ControlPlaneRig> {
  const logger = opts.logger ?? silentLogger();
  const redis = opts.redis ?? (await startRedis({ appendonly: true }));
  const fixture = await startMosquittoDynsecFixture({ withService: false, ...(opts.mosquittoConfig ? { extraConfig: opts.mosquittoConfig } : {}) });
  const admin = brokerAdminFor(fixture.url);
  const adminToken = randomBytes(16).toString('hex');
  const makeController = () =>
    createController(
      parseControllerConfig({
        redisUrl: redis.url,
        brokerUrl: fixture.url,
        servicePassword: fixture.serviceAuth.password,
        adminTokens: [adminToken],
        apiPort: 0,
        antiEntropyIntervalSeconds: 0,
        ...admin,
        ...opts.controller,
      }),
      { ...opts.deps, logger },
    );
  let controller = makeController();
  await controller.start();
  return {
    redis,
    get broker(): OutpostBroker {
      throw new Error("this test uses Outpost's broker object: it cannot run with OUTPOST_TEST_BROKER=mosquitto-dynsec");
    },
    brokerUrl: fixture.url,
    get controller() {
      return controller;
    },
    restartBroker: () => fixture.restart(),
    async restartBrokerWithoutRetained() {
      // SIGTERM writes the file one last time; it is deleted after.
      await fixture.server.terminate();
      await rm(fixture.server.persistenceFile);
      await fixture.restart();
    },
    stopBroker: () => fixture.server.terminate(),
    brokerOutput: () => fixture.output(),
    async restartController() {
      await controller.close();
      controller = makeController();
      await controller.start();
    },
    serviceAuth: fixture.serviceAuth,
    adminToken,
    async close() {
      await controller.close();
      await fixture.stop();
      if (!opts.redis) await redis.stop();
    },
  };
}
