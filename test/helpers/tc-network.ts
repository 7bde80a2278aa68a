import { createServer, connect, type Server, type Socket } from 'node:net';
import Docker from 'dockerode';
import { Network, type StartedNetwork } from 'testcontainers';
import { removeAtExit, removedAlready } from './tc-exit-cleanup.js';
import { trackPair } from './socket-pair.js';

/**
 * A bridge network of the test's own (testcontainers), for agents in
 * containers, and the way from it to the control plane on the host's
 * loopback (DD-048): a TCP forwarder listening on the network's gateway
 * address only, in front of the broker's loopback port. The broker, Outpost's
 * or Mosquitto, is the host process the rig started; the forwarder only
 * copies bytes, so a partition inside a container leaves its far end (the
 * broker's connection) open and silent, as a NAT would.
 */
export interface DeviceNetwork {
  readonly network: StartedNetwork;
  /** The host's address on this network (the bridge's gateway). */
  readonly gateway: string;
  /** Starts a forwarder on the gateway to `brokerUrl` (a loopback mqtt:// URL); resolves to the URL containers use. */
  forwardBroker(brokerUrl: string): Promise<string>;
  /** TCP connections accepted by the forwarders so far. */
  readonly connections: number;
  /** Stops the forwarders, then removes the network (its containers must be gone). Idempotent. */
  close(): Promise<void>;
}

export async function startDeviceNetwork(docker: Docker = new Docker()): Promise<DeviceNetwork> {
  const network = await new Network().start();
  removeAtExit('network', network.getId());
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
      await network.stop();
      removedAlready('network', network.getId());
    })());
  try {
    const info = await docker.getNetwork(network.getId()).inspect();
    const gateway = (info as { IPAM?: { Config?: Array<{ Gateway?: string }> } }).IPAM?.Config?.[0]?.Gateway;
    if (!gateway) throw new Error(`network ${network.getName()} has no IPv4 gateway: ${JSON.stringify(info.IPAM)}`);
    return {
      network,
      gateway,
      get connections() {
        return connections;
      },
      async forwardBroker(brokerUrl) {
        const target = new URL(brokerUrl);
        const server = createServer((client) => {
          connections += 1;
          const upstream = connect(Number(target.port), target.hostname);
          const drop = trackPair(sockets, client, upstream);
          client.on('error', drop).on('close', drop);
          upstream.on('error', drop).on('close', drop);
          client.pipe(upstream);
          upstream.pipe(client);
        });
        servers.push(server);
        await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, gateway, resolve));
        const address = server.address();
        const port = typeof address === 'object' && address ? address.port : 0;
        return `${target.protocol}//${gateway}:${port}`;
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
