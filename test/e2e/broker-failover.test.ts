import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { checkHistory } from '../../bench/chaos/checker.js';
import { CLI } from '../helpers/agent-process.js';
import { testBrokerKind } from '../helpers/broker-mode.js';
import { SERVICE_USERNAME } from '../helpers/brokers.js';
import { startControllerProcess, type ControllerProcess } from '../helpers/controller-process.js';
import { containerCreates, deviceContainers, expectedHash } from '../helpers/device-containers.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { deployFirstRelease } from '../helpers/fleet-rig.js';
import { freePort } from '../helpers/free-port.js';
import { TEST_IMAGE_2 } from '../helpers/images.js';
import { startMqttRelay, type MqttRelay } from '../helpers/mqtt-relay.js';
import { spawnProcess, type ManagedProcess } from '../helpers/process.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { RolloutFleet } from '../helpers/rollout-fleet.js';
import { waitFor } from '../helpers/wait-for.js';

/** One node of a broker cluster: an `outpost broker` process on the shared Redis (persistence + mqemitter-redis). */
async function startBrokerNode(name: string, redisUrl: string, servicePassword: string): Promise<{ proc: ManagedProcess; port: number; url: string }> {
  const port = await freePort();
  const proc = spawnProcess(process.execPath, {
    name,
    args: [CLI, 'broker', '--host', '127.0.0.1', '--port', String(port), '--redis', redisUrl, '--log-level', 'debug'],
    env: { OUTPOST_SERVICE_PASSWORD: servicePassword },
    bufferLines: 1000,
  });
  await proc.waitForLine(/"msg":"broker listening"/, 30_000);
  return { proc, port, url: `mqtt://127.0.0.1:${port}` };
}

/**
 * DD-046: two Outpost broker processes share one Redis; the device's agent has
 * both in its broker list, the controller is on the other node. Node A dies
 * (kill -9) in the middle of an update while node B is still out of the
 * device's reach, a command is queued for the device meanwhile; when B becomes
 * reachable the agent fails over to it, finds its session (the queued command
 * arrives), converges, applies the update exactly once, and is online again.
 */
// Mosquitto has no clustering of its own; this is Outpost's broker on Redis.
describe.skipIf(testBrokerKind() === 'mosquitto-dynsec')('broker failover across a cluster on one Redis', () => {
  let redis: RedisServer | undefined;
  let nodeA: { proc: ManagedProcess; port: number; url: string } | undefined;
  let nodeB: { proc: ManagedProcess; port: number; url: string } | undefined;
  let controller: ControllerProcess | undefined;
  let fleet: RolloutFleet | undefined;
  let relayToB: MqttRelay | undefined;
  dumpOnFailure((): Record<string, string> => ({
    ...(nodeA ? { 'broker A': nodeA.proc.output() } : {}),
    ...(nodeB ? { 'broker B': nodeB.proc.output() } : {}),
    ...(controller ? { controller: controller.proc.output() } : {}),
    ...(fleet?.outputs() ?? {}),
    ...(relayToB
      ? { 'relay to B': relayToB.packets.map((p) => `${p.at} ${p.direction} ${p.cmd} ${p.messageId ?? ''} ${p.topic ?? ''}`).join('\n') }
      : {}),
  }));

  afterAll(async () => {
    await fleet?.close();
    await relayToB?.close();
    await controller?.proc.stop();
    await nodeA?.proc.stop();
    await nodeB?.proc.stop();
    await redis?.stop();
  });

  it('kill -9 of the device’s broker mid-update: fails over, resumes its session with what was queued, converges once', async () => {
    redis = await startRedis({ appendonly: true });
    const servicePassword = randomBytes(16).toString('hex');
    const adminToken = randomBytes(16).toString('hex');
    nodeA = await startBrokerNode('broker A', redis.url, servicePassword);
    nodeB = await startBrokerNode('broker B', redis.url, servicePassword);
    controller = await startControllerProcess({ name: 'controller', redisUrl: redis.url, brokerUrl: nodeB.url, servicePassword, adminToken });
    // The device reaches B through a port that answers only once the test opens it.
    const reachB = await freePort();
    const role = `failover-${randomBytes(3).toString('hex')}`;
    fleet = await RolloutFleet.start({
      api: { url: controller.apiUrl, token: adminToken },
      brokerUrl: nodeB.url,
      agentBrokerUrl: `${nodeA.url},mqtt://127.0.0.1:${reachB}`,
      serviceAuth: { username: SERVICE_USERNAME, password: servicePassword },
      prefix: 'failover',
      count: 1,
      labels: () => ({ role }),
    });
    const id = fleet.ids[0]!;
    const agent = fleet.agent(id);
    await deployFirstRelease(fleet, { app: 'fo', workload: 'web', role });
    // Everything so far went controller → B → Redis → A → device.
    expect(agent.output()).toMatch(new RegExp(`"broker":"mqtt://127\\.0\\.0\\.1:${nodeA.port}".*"msg":"connected"`));

    // The update to v2 reaches the device through A; A dies as the device starts on it.
    const since = Date.now() / 1000;
    await fleet.client.createDeployment({ app: 'fo', version: '2', target: { kind: 'selector', selector: `role=${role}` } });
    await waitFor(() => fleet!.received(id).includes(2), { timeoutMs: 30_000, description: 'the device received desired v2' });
    nodeA.proc.kill('SIGKILL');
    await nodeA.proc.waitForExit(10_000);
    await agent.waitForLine(/"msg":"disconnected"/, 30_000);

    // Queued while the device reaches no broker: a command (QoS 1, not retained) waits in its session in Redis.
    const { view: queued } = await fleet.client.sendCommand(id, { type: 'logs', workload: 'fo-web', tail: 5, waitSeconds: 0 });
    expect(queued.status).toBe('queued');
    // The agent keeps trying both: A is gone, B not reachable yet.
    await agent.waitForLine(new RegExp(`"broker":"mqtt://127\\.0\\.0\\.1:${reachB}".*next attempt goes to the next broker`), 30_000);

    relayToB = await startMqttRelay(nodeB.port, undefined, reachB);
    const reconnected = await agent.waitForLine(new RegExp(`"broker":"mqtt://127\\.0\\.0\\.1:${reachB}".*"msg":"connected"`), 60_000);
    expect(JSON.parse(reconnected.replace(/^(out|err)\|/, '')).sessionPresent).toBe(true);

    const answered = await waitFor(
      async () => {
        const c = await fleet!.client.getCommand(id, queued.command.id);
        return c.status === 'queued' ? undefined : c;
      },
      { timeoutMs: 60_000, intervalMs: 250, description: 'the queued command answered after the failover' },
    );
    expect(answered.status).toBe('done');
    expect(answered.result?.ok).toBe(true);

    await fleet.converged(id, 2, 90_000);
    const web = (await deviceContainers(id)).find((c) => c.workload === 'fo-web');
    const v2Hash = expectedHash({ image: TEST_IMAGE_2, stopTimeoutSeconds: 1 });
    expect(web?.specHash).toBe(v2Hash);
    expect(web?.state).toBe('running');
    // The history checker (issue 13): the device ends at its latest version, reported versions only
    // went up, and Docker's own event log shows no container created twice for one spec.
    const creates = await containerCreates(id, since);
    expect(creates.filter((c) => c.specHash === v2Hash)).toHaveLength(1);
    const verdict = checkHistory(id, {
      published: [...fleet.received(id), (await fleet.desiredVersion(id)) ?? 0],
      applied: fleet.watches[id]!.reports.map((r) => r.desired.appliedVersion),
      creates,
    });
    expect(verdict).toEqual({ lost: 0, duplicated: 0, unexpected: 0, problems: [] });

    // Presence: online through B, whatever A's death left behind (stale wills carry an older epoch).
    await waitFor(
      async () => {
        const d = await fleet!.client.getDevice(id);
        return d.online === true ? d : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, description: 'the device shows online after the failover' },
    );
    expect(relayToB.connections).toBeGreaterThanOrEqual(1);
  });
});
