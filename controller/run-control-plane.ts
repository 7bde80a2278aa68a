import type { FastifyInstance } from 'fastify';
import type { Logger } from '../shared/logger.js';
import type { ControllerConfig } from './config.js';
import { createController, type Controller } from './create-controller.js';
import { buildApi } from './http/build-api.js';

export interface RunningControlPlane {
  readonly controller: Controller;
  readonly api: FastifyInstance;
  readonly apiUrl: string;
  close(): Promise<void>;
}

/** Controller + HTTP API, started and listening; close() stops the API first, then the controller. */
export async function runControlPlane(config: ControllerConfig, logger: Logger): Promise<RunningControlPlane> {
  const controller = createController(config, { logger: logger.child({ component: 'controller' }) });
  await controller.start();
  let api: FastifyInstance;
  try {
    api = await buildApi(controller.controlPlane, { adminTokens: config.adminTokens, logger: logger.child({ component: 'api' }) });
    await api.listen({ host: config.apiHost, port: config.apiPort });
  } catch (err) {
    await controller.close();
    throw err;
  }
  const address = api.server.address();
  const port = typeof address === 'object' && address ? address.port : config.apiPort;
  const apiUrl = `http://${config.apiHost.includes(':') ? `[${config.apiHost}]` : config.apiHost}:${port}`;
  logger.info({ api: apiUrl }, 'api listening');
  return {
    controller,
    api,
    apiUrl,
    async close() {
      await api.close();
      await controller.close();
    },
  };
}
