import { afterAll, describe, expect, it } from 'vitest';
import { checkHistory } from '../../bench/chaos/checker.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { deployFirstRelease, startFleetRig, type FleetRig } from '../helpers/fleet-rig.js';
import { startMqttRelay, type MqttRelay } from '../helpers/mqtt-relay.js';
import { waitFor } from '../helpers/wait-for.js';

/** The agents' keepalive in the test rig (agent-process.ts: `--keepalive 10`). */
const KEEPALIVE_S = 10;

/**
 * Issue 13, F6: a half-open TCP connection on the device's side — the link
 * silently stops carrying packets, no FIN, no RST (a NAT or a cellular flow
 * lost). The agent notices by its keepalive and reconnects on a new flow;
 * the broker's takeover of the stale session leaves presence correct; a
 * deployment made while the link was dead arrives and is applied once.
 */
describe('F6: half-open TCP on the device side', () => {
  let rig: FleetRig | undefined;
  let relay: MqttRelay | undefined;
  dumpOnFailure(() => rig?.fleet.outputs() ?? {});

  afterAll(async () => {
    await rig?.close();
    await relay?.close();
  });

  it('the agent notices within its keepalive, reconnects, gets what was deployed meanwhile, and shows online', async () => {
    const role = `halfopen-${Math.random().toString(36).slice(2, 7)}`;
    rig = await startFleetRig({
      prefix: 'halfopen',
      count: 1,
      labels: () => ({ role }),
      agentBroker: async (brokerUrl) => {
        relay = await startMqttRelay(Number(new URL(brokerUrl).port));
        return relay.url;
      },
    });
    const { fleet } = rig;
    const id = fleet.ids[0]!;
    await deployFirstRelease(fleet, { app: 'ho', workload: 'web', role });
    const agent = fleet.agent(id);
    const disconnectsBefore = agent.output().split('"msg":"disconnected"').length - 1;
    const connectionsBefore = relay!.connections;
    const since = Date.now() / 1000;

    relay!.blackhole();
    await fleet.client.createDeployment({ app: 'ho', version: '2', target: { kind: 'selector', selector: `role=${role}` } });
    const latest = (await fleet.desiredVersion(id)) ?? 0;

    // No FIN, no RST: only the keepalive (a PINGREQ with no PINGRESP) can tell. Three periods at most.
    await waitFor(() => agent.output().split('"msg":"disconnected"').length - 1 > disconnectsBefore, {
      timeoutMs: 3 * KEEPALIVE_S * 1000,
      intervalMs: 200,
      description: 'the agent noticed the dead link',
    });
    await waitFor(() => relay!.connections > connectionsBefore, { timeoutMs: 30_000, description: 'the agent opened a new connection' });
    await fleet.converged(id, latest, 60_000);

    // Presence: the controller shows the device online, and the newest epoch it saw says online.
    await waitFor(async () => (await fleet.client.getDevice(id)).online === true, { timeoutMs: 30_000, description: 'online after the takeover' });
    const presence = fleet.watches[id]!.presence;
    const newest = presence.reduce((a, b) => (b.epoch > a.epoch ? b : a));
    expect(newest.status).toBe('online');

    const verdict = checkHistory(id, await fleet.history(id, latest, since));
    expect(verdict).toEqual({ lost: 0, duplicated: 0, unexpected: 0, problems: [] });
  });
});
