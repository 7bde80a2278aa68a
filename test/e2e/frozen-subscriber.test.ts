import { afterAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { checkHistory } from '../../bench/chaos/checker.js';
import { Topics } from '../../shared/topics.js';
import { testBrokerKind } from '../helpers/broker-mode.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { deployFirstRelease, startFleetRig, type FleetRig } from '../helpers/fleet-rig.js';
import { connectFrozenSubscriber, type FrozenSubscriber } from '../helpers/frozen-subscriber.js';
import { captureLogs } from '../helpers/log-capture.js';
import { parsePromText, sampleValue } from '../helpers/prom-text.js';
import { waitFor } from '../helpers/wait-for.js';

/** Messages flooded to the frozen device, and their size: far more than the kernel's socket buffers and the broker's emitter slots (100). */
const FLOOD_MESSAGES = 400;
const FLOOD_BYTES = 64 * 1024;
/** Outpost's broker in this test: a frozen client is cut once 1 MiB waits for it (default 8 MiB). */
const MAX_OUTGOING_BUFFER_BYTES = 1024 * 1024;
/** Mosquitto in this test: at most this many messages queued for one client beyond its 100 in flight. */
const MOSQUITTO_MAX_QUEUED = 50;
/**
 * aedes's own bound on a frozen client (it waits for 'drain', holding one of
 * the emitter's `concurrency` slots per message, until drainTimeout) is set
 * out of reach here: delivery to the others may not depend on it.
 */
const DRAIN_TIMEOUT_MS = 600_000;

/**
 * Issue 13, F10: a frozen subscriber — a device that connects, subscribes at
 * QoS 1 and then stops reading its socket — must not stall delivery to the
 * others. While messages pile up for it, real agents receive a deployment and
 * converge (checker clean); Outpost's broker cuts the frozen client once its
 * outgoing buffer passes --max-outgoing-buffer-bytes (a log line and
 * outpost_broker_slow_clients_cut_total), so its memory stays bounded.
 * Mosquitto never waits on one client's socket; what it keeps for one is
 * bounded by max_queued_messages (here 50) beyond its in-flight window, and
 * it says so when it starts dropping.
 */
describe('F10: a frozen subscriber', () => {
  let rig: FleetRig | undefined;
  let frozen: FrozenSubscriber | undefined;
  let flooder: mqtt.MqttClient | undefined;
  dumpOnFailure(() => rig?.fleet.outputs() ?? {});

  afterAll(async () => {
    frozen?.close();
    await flooder?.endAsync(true).catch(() => undefined);
    await rig?.close();
  });

  it('does not stall delivery to the others, and its backlog in the broker stays bounded', async () => {
    const onOutpost = testBrokerKind() === 'outpost';
    const role = `frozen-${Math.random().toString(36).slice(2, 7)}`;
    const { logger, logs } = captureLogs();
    rig = await startFleetRig({
      prefix: 'frozen',
      count: 2,
      labels: () => ({ role }),
      logger,
      broker: { drainTimeoutMs: DRAIN_TIMEOUT_MS, maxOutgoingBufferBytes: MAX_OUTGOING_BUFFER_BYTES },
      mosquittoConfig: [`max_queued_messages ${MOSQUITTO_MAX_QUEUED}`],
    });
    const { fleet } = rig;
    await deployFirstRelease(fleet, { app: 'fz', workload: 'web', role });
    const since = Date.now() / 1000;

    // The frozen device: enrolled like any other (outside the deployment's selector), subscribed to its own topics.
    const topics = new Topics();
    const frozenId = `frozen-dev-${Math.random().toString(36).slice(2, 7)}`;
    const { secret } = await fleet.client.addDevice({ id: frozenId, labels: { role: `${role}-frozen` } });
    frozen = await connectFrozenSubscriber({
      url: rig.rig.brokerUrl,
      clientId: frozenId,
      username: frozenId,
      password: secret,
      topics: [topics.desired(frozenId), topics.commands(frozenId)],
    });
    frozen.freeze();

    // The flood: QoS 1 messages on its command topic from the service identity, as fast as the broker takes them.
    flooder = await mqtt.connectAsync(rig.rig.brokerUrl, {
      clientId: `svc:flood-${Math.random().toString(36).slice(2, 8)}`,
      ...rig.rig.serviceAuth,
      clean: true,
      reconnectPeriod: 0,
      protocolVersion: 4,
    });
    const payload = Buffer.alloc(FLOOD_BYTES, 0x61);
    const flood = flooder;
    await Promise.all(Array.from({ length: FLOOD_MESSAGES }, () => flood.publishAsync(topics.commands(frozenId), payload, { qos: 1 })));

    // Meanwhile: a deployment to the others.
    await fleet.client.createDeployment({ app: 'fz', version: '2', target: { kind: 'selector', selector: `role=${role}` } });
    for (const id of fleet.ids) {
      const latest = (await fleet.desiredVersion(id)) ?? 0;
      await fleet.converged(id, latest, 60_000);
      const verdict = checkHistory(id, await fleet.history(id, latest, since));
      expect(verdict).toEqual({ lost: 0, duplicated: 0, unexpected: 0, problems: [] });
    }

    if (onOutpost) {
      // Bounded: the broker cut it (its backlog passed the limit), said so, and counted it.
      const cut = await waitFor(() => logs.find((l) => l.msg === 'slow client cut' && l.clientId === frozenId), {
        timeoutMs: 30_000,
        description: 'the broker cut the frozen client',
      });
      expect(cut).toMatchObject({ code: 'CLIENT_TOO_SLOW', maxOutgoingBufferBytes: MAX_OUTGOING_BUFFER_BYTES });
      const metrics = parsePromText(await rig.rig.broker.metrics.render());
      expect(sampleValue(metrics, 'outpost_broker_slow_clients_cut_total')).toBe(1);
      expect(Reflect.get(rig.rig.broker.aedes, 'clients')).not.toHaveProperty(frozenId);
    } else {
      expect(rig.rig.brokerOutput?.() ?? '').toContain(`Outgoing messages are being dropped for client ${frozenId}`);
    }
  });
});
