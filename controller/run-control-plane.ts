import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../shared/logger.js';
import type { ControllerConfig } from './config.js';
import { createController, type Controller, type ControllerDeps } from './create-controller.js';
import { buildApi } from './http/build-api.js';

export interface RunningControlPlane {
  readonly controller: Controller;
  readonly api: FastifyInstance;
  readonly apiUrl: string;
  close(): Promise<void>;
}

/**
 * Controller + HTTP API, started and listening; close() stops the API first,
 * then the controller. A failed start closes what it opened, so the process
 * exits instead of hanging on open connections.
 */
export async function runControlPlane(config: ControllerConfig, logger: Logger, deps: Omit<ControllerDeps, 'logger'> = {}): Promise<RunningControlPlane> {
  // Read before anything starts: an unreadable certificate fails the start, not the first request.
  const https =
    config.apiTlsCertFile !== undefined && config.apiTlsKeyFile !== undefined
      ? { cert: readFileSync(config.apiTlsCertFile), key: readFileSync(config.apiTlsKeyFile) }
      : undefined;
  const controller = createController(config, { ...deps, logger: logger.child({ component: 'controller' }) });
  let api: FastifyInstance | undefined;
  try {
    await controller.start();
    api = await buildApi(controller.controlPlane, {
      adminTokens: config.adminTokens,
      logger: logger.child({ component: 'api' }),
      metrics: { endpoint: controller.metrics, public: config.metricsPublic },
      ...(https ? { https } : {}),
    });
    await api.listen({ host: config.apiHost, port: config.apiPort });
  } catch (err) {
    await api?.close().catch(() => undefined);
    await controller.close();
    throw err;
  }
  const server = api;
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : config.apiPort;
  const apiUrl = `${https ? 'https' : 'http'}://${config.apiHost.includes(':') ? `[${config.apiHost}]` : config.apiHost}:${port}`;
  logger.info({ api: apiUrl, dashboard: `${apiUrl}/ui/` }, 'api listening');
  return {
    controller,
    api: server,
    apiUrl,
    async close() {
      await server.close();
      await controller.close();
    },
  };
}
