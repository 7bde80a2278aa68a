import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../controller/http/build-api.js';
import type { ControllerConfigInput } from '../../controller/config.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import { startControlPlane, type ControlPlaneOptions, type ControlPlaneRig } from './control-plane.js';
import { TEST_IMAGE, TEST_IMAGE_2 } from './images.js';
import { RolloutFleet, type FleetOptions } from './rollout-fleet.js';

/** A control plane with its HTTP API on a random loopback port, and a fleet of real agents enrolled through it. */
export interface FleetRig {
  readonly rig: ControlPlaneRig;
  readonly url: string;
  readonly fleet: RolloutFleet;
  close(): Promise<void>;
}

export async function startFleetRig(
  opts: Omit<FleetOptions, 'api' | 'brokerUrl' | 'serviceAuth' | 'agentBrokerUrl'> & {
    controller?: Partial<ControllerConfigInput>;
    logger?: Logger;
    brokerStoreKeyFile?: string;
    /** More settings of Outpost's broker (startControlPlane's `broker`). */
    broker?: ControlPlaneOptions['broker'];
    /** More mosquitto.conf lines (startControlPlane's `mosquittoConfig`). */
    mosquittoConfig?: ControlPlaneOptions['mosquittoConfig'];
    /** Where the agents connect, given the rig's broker URL (e.g. a relay in front of it); the broker itself by default. */
    agentBroker?: (brokerUrl: string) => Promise<string>;
  },
): Promise<FleetRig> {
  const { controller, logger, brokerStoreKeyFile, broker, mosquittoConfig, agentBroker, ...fleetOptions } = opts;
  const rig = await startControlPlane({
    controller: controller ?? { rolloutPollSeconds: 0.5 },
    ...(logger ? { logger } : {}),
    ...(brokerStoreKeyFile !== undefined ? { brokerStoreKeyFile } : {}),
    ...(broker ? { broker } : {}),
    ...(mosquittoConfig ? { mosquittoConfig } : {}),
  });
  let api: FastifyInstance | undefined;
  let fleet: RolloutFleet | undefined;
  const close = async (): Promise<void> => {
    await fleet?.close();
    await api?.close();
    await rig.close();
  };
  try {
    api = await buildApi(rig.controller.controlPlane, { adminTokens: [rig.adminToken], logger: logger ?? silentLogger() });
    await api.listen({ host: '127.0.0.1', port: 0 });
    const address = api.server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const agentBrokerUrl = agentBroker ? await agentBroker(rig.brokerUrl) : undefined;
    fleet = await RolloutFleet.start({
      ...fleetOptions,
      api: { url, token: rig.adminToken },
      brokerUrl: rig.brokerUrl,
      serviceAuth: rig.serviceAuth,
      ...(agentBrokerUrl ? { agentBrokerUrl } : {}),
    });
    return { rig, url, fleet, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * Releases `app@1` (TEST_IMAGE) and `app@2` (TEST_IMAGE_2) of one workload,
 * deploys `app@1` to `role=<role>` and waits until every device runs it.
 */
export async function deployFirstRelease(fleet: RolloutFleet, opts: { app: string; workload: string; role: string }): Promise<void> {
  const { app, workload, role } = opts;
  await fleet.client.createRelease({ app, version: '1', workloads: { [workload]: { image: TEST_IMAGE, stopTimeoutSeconds: 1 } } });
  await fleet.client.createRelease({ app, version: '2', workloads: { [workload]: { image: TEST_IMAGE_2, stopTimeoutSeconds: 1 } } });
  await fleet.client.createDeployment({ app, version: '1', target: { kind: 'selector', selector: `role=${role}` } });
  await Promise.all(fleet.ids.map((id) => fleet.converged(id, 1)));
}
