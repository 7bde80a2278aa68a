import { afterAll, describe, expect, it } from 'vitest';
import { checkHistory } from '../../bench/chaos/checker.js';
import { testBrokerKind } from '../helpers/broker-mode.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { deployFirstRelease, startFleetRig, type FleetRig } from '../helpers/fleet-rig.js';
import { TEST_IMAGE } from '../helpers/images.js';
import { parsePromText, sampleValue } from '../helpers/prom-text.js';
import { waitFor } from '../helpers/wait-for.js';

/** The broker's cap on one persistent session's queue in this test (Outpost: --max-queued-messages; Mosquitto: max_queued_messages). */
const QUEUE_CAP = 4;
/** Commands that outlive the test, and ones that are stale by the time the device returns. */
const LONG_TTL_S = 600;
const SHORT_TTL_S = 1;

/**
 * Issue 13, F8: a device offline while more messages are queued for it than
 * the broker keeps. Two new versions and six commands (eight messages) wait
 * for a real agent that is stopped, on a broker whose session queue holds
 * four. On return the agent converges to the LATEST version — which reaches
 * it as the retained document, whatever the queue lost — and applies it once
 * (checker clean). What was dropped is visible.
 *
 * Outpost's broker drops the OLDEST (DD-020): both desired documents and the
 * first two commands go (outpost_broker_queue_dropped_total); the newest four
 * commands arrive, two of them after their expiry, which the agent answers
 * with COMMAND_EXPIRED instead of running them. Mosquitto drops the NEWEST
 * (pitfalls: "Mosquitto with a full queue drops the newest"): the two desired
 * documents and the first two commands arrive, the last four never do and
 * stay unanswered in the API; the latest version still arrives retained.
 */
describe('F8: a device offline beyond the broker queue cap', () => {
  let rig: FleetRig | undefined;
  dumpOnFailure(() => rig?.fleet.outputs() ?? {});

  afterAll(async () => {
    await rig?.close();
  });

  it('converges to the latest version from the retained document, applies it once, and the dropped messages are visible', async () => {
    const onOutpost = testBrokerKind() === 'outpost';
    const role = `qcap-${Math.random().toString(36).slice(2, 7)}`;
    rig = await startFleetRig({
      prefix: 'qcap',
      count: 1,
      labels: () => ({ role }),
      broker: { maxQueuedMessages: QUEUE_CAP },
      mosquittoConfig: [`max_queued_messages ${QUEUE_CAP}`],
    });
    const { fleet } = rig;
    const id = fleet.ids[0]!;
    await deployFirstRelease(fleet, { app: 'qc', workload: 'web', role });
    await fleet.client.createRelease({ app: 'qc', version: '3', workloads: { web: { image: TEST_IMAGE, env: { V: '3' }, stopTimeoutSeconds: 1 } } });
    const since = Date.now() / 1000;
    const brokerCounter = async (name: string): Promise<number> => sampleValue(parsePromText(await rig!.rig.broker.metrics.render()), name);
    const queuedBefore = onOutpost ? await brokerCounter('outpost_broker_messages_queued_total') : 0;
    const droppedBefore = onOutpost ? await brokerCounter('outpost_broker_queue_dropped_total') : 0;

    await fleet.stopAgent(id);
    await waitFor(async () => (await fleet.client.getDevice(id)).online === false, { timeoutMs: 30_000, description: 'the device is offline' });

    const ping = async (ttlSeconds: number): Promise<string> => (await fleet.client.sendCommand(id, { type: 'ping', ttlSeconds, waitSeconds: 0 })).view.command.id;
    const deploy = (version: string) => fleet.client.createDeployment({ app: 'qc', version, target: { kind: 'selector', selector: `role=${role}` } });
    await deploy('2');
    const skipped = (await fleet.desiredVersion(id)) ?? 0;
    const a1 = await ping(LONG_TTL_S);
    await deploy('3');
    const latest = (await fleet.desiredVersion(id)) ?? 0;
    const a2 = await ping(LONG_TTL_S);
    const stale = [await ping(SHORT_TTL_S), await ping(SHORT_TTL_S)];
    const fresh = [await ping(LONG_TTL_S), await ping(LONG_TTL_S)];
    const sent = 8;

    if (onOutpost) {
      // Every message was written to the device's queue (with the Redis emitter that can trail its PUBACK), the oldest four dropped.
      await waitFor(async () => (await brokerCounter('outpost_broker_messages_queued_total')) - queuedBefore >= sent, {
        timeoutMs: 15_000,
        description: `${sent} messages queued for the offline device`,
      });
      expect((await brokerCounter('outpost_broker_queue_dropped_total')) - droppedBefore).toBe(sent - QUEUE_CAP);
    }
    // The short-lived commands are stale before the device is back.
    await waitFor(async () => (await Promise.all(stale.map((c) => fleet.client.getCommand(id, c)))).every((v) => Date.parse(v.expiresAt) < Date.now()), {
      timeoutMs: 10_000,
      description: 'the short-lived commands expired',
    });

    await fleet.startAgent(id);
    await fleet.converged(id, latest, 60_000);
    const verdict = checkHistory(id, await fleet.history(id, latest, since));
    expect(verdict).toEqual({ lost: 0, duplicated: 0, unexpected: 0, problems: [] });

    const answered = (commandId: string, status: string) =>
      waitFor(async () => {
        const view = await fleet.client.getCommand(id, commandId);
        return view.result?.status === status ? view : undefined;
      }, { timeoutMs: 30_000, description: `command ${commandId} ${status}` });
    if (onOutpost) {
      for (const c of fresh) expect((await answered(c, 'done')).result?.ok).toBe(true);
      for (const c of stale) expect((await answered(c, 'expired')).result?.code).toBe('COMMAND_EXPIRED');
      // The oldest were dropped by the cap: the device never saw the two commands, nor the intermediate version.
      for (const c of [a1, a2]) expect((await fleet.client.getCommand(id, c)).result).toBeNull();
      expect(fleet.received(id)).not.toContain(skipped);
    } else {
      for (const c of [a1, a2]) expect((await answered(c, 'done')).result?.ok).toBe(true);
      // Mosquitto says so once per client when its queue starts dropping.
      expect(rig.rig.brokerOutput?.() ?? '').toContain(`Outgoing messages are being dropped for client ${id}`);
      for (const c of [...stale, ...fresh]) expect((await fleet.client.getCommand(id, c)).result).toBeNull();
    }
  });
});
