import { ApiClient } from '../../cli/client/api-client.js';
import { parseControllerConfig, type ControllerConfigInput } from '../../controller/config.js';
import type { ControllerDeps } from '../../controller/create-controller.js';
import { runControlPlane, type RunningControlPlane } from '../../controller/run-control-plane.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import { brokerAdminFor } from './brokers.js';
import type { BrokerRig } from './controller-process.js';

export interface InProcessControlPlane {
  readonly running: RunningControlPlane;
  /** The CLI's own API client, pointed at this controller. */
  readonly client: ApiClient;
  close(): Promise<void>;
}

/** A controller + HTTP API in the test process on a broker rig, listening on a free loopback port. */
export async function startInProcessControlPlane(
  rig: BrokerRig,
  opts: { controller?: Partial<ControllerConfigInput>; deps?: Omit<ControllerDeps, 'logger'>; logger?: Logger } = {},
): Promise<InProcessControlPlane> {
  const config = parseControllerConfig({
    redisUrl: rig.redis.url,
    brokerUrl: rig.brokerUrl,
    servicePassword: rig.servicePassword,
    adminTokens: [rig.adminToken],
    apiPort: 0,
    antiEntropyIntervalSeconds: 0,
    ...brokerAdminFor(rig.brokerUrl),
    ...opts.controller,
  });
  const running = await runControlPlane(config, opts.logger ?? silentLogger(), opts.deps ?? {});
  const client = new ApiClient({ baseUrl: running.apiUrl, token: rig.adminToken, retryDelayMs: 200 });
  return { running, client, close: () => running.close() };
}
