import { ensureOutpostImage } from './agent-image.js';
import { deviceContainers, type DeviceContainer } from './device-containers.js';
import { startFleetRig, type FleetRig } from './fleet-rig.js';
import { linkPartition, type LinkPartition } from './link-partition.js';
import { agentContainers } from './tc-agents.js';
import { startDeviceNetwork, type DeviceNetwork } from './tc-network.js';

/** A fleet rig (fleet-rig.ts) whose agents run in containers on the test's own network (DD-048). */
export interface ContainerFleetRig extends FleetRig {
  readonly net: DeviceNetwork;
  /** The device's link to the broker, to cut and heal (its agent must be running). */
  link(deviceId: string): LinkPartition;
}

/**
 * The control plane (Redis, broker, controller, API) as host processes on
 * loopback, as in startFleetRig; the agents in containers of the
 * compose/Dockerfile image (built on first use: a few minutes, then
 * cached) reaching the broker through the network's gateway. close()
 * removes the agents, their workloads and the network, in that order.
 */
export async function startContainerFleetRig(opts: Omit<Parameters<typeof startFleetRig>[0], 'agentBroker' | 'launchAgent'>): Promise<ContainerFleetRig> {
  const image = await ensureOutpostImage();
  const net = await startDeviceNetwork();
  const containers = agentContainers({ image, network: net.network });
  const links = new Map<number, LinkPartition>();
  let rig: FleetRig;
  try {
    rig = await startFleetRig({ ...opts, agentBroker: (url) => net.forwardBroker(url), launchAgent: (o) => containers.launch(o) });
  } catch (err) {
    await containers.close();
    await net.close();
    throw err;
  }
  return {
    ...rig,
    net,
    link(deviceId) {
      const pid = rig.fleet.agent(deviceId).pid;
      if (pid === undefined) throw new Error(`no pid for the agent of ${deviceId}`);
      let link = links.get(pid);
      if (!link) links.set(pid, (link = linkPartition(pid, net.gateway)));
      return link;
    },
    async close() {
      // The agents first, all at once (the fleet would stop them one by one), then what they ran, then their network.
      try {
        await containers.close();
        await rig.close();
      } finally {
        await containers.close();
        await net.close();
      }
    },
  };
}

/** The device's workloads: its containers but the agent's own, which carries the device label too (tc-agents.ts). */
export async function deviceWorkloads(deviceId: string): Promise<DeviceContainer[]> {
  return (await deviceContainers(deviceId)).filter((c) => c.workload !== '');
}
