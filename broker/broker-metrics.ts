import type { Aedes, AedesOptions, Client, Subscription } from 'aedes';
import { Counter, Gauge, type Registry } from 'prom-client';

/** SUBACK return code of a refused filter [MQTT-3.9.3]. */
const SUBACK_FAILURE = 128;

/** CONNACK return codes of MQTT 3.1.1 [MQTT-3.2.2.3], as label values. */
const CONNACK_REASONS: Record<number, string> = {
  1: 'unacceptable-protocol',
  2: 'identifier-rejected',
  3: 'server-unavailable',
  4: 'bad-credentials',
  5: 'not-authorized',
};

type AuthorizeForward = NonNullable<AedesOptions['authorizeForward']>;

export interface BrokerMetrics {
  /** Wraps authorizeForward so every delivery (and every blocked one) is counted. */
  countForward(authorize: AuthorizeForward): AuthorizeForward;
  /** A stored packet that did not open (wrong store key, altered) and was dropped (DD-047). */
  countUnreadable(kind: string): void;
  /** Messages queued for persistent sessions (one per subscriber queue), and the oldest dropped for the queue cap. */
  countQueued(queued: number, dropped: number): void;
  /** A connection cut because its client stopped reading (DD-050). */
  countSlowClientCut(): void;
  /** Starts counting aedes's events; `clientsOf` lists its live clients (for the subscription gauge). */
  attach(aedes: Aedes, clientsOf: () => Record<string, Client>): void;
}

/**
 * The broker's Prometheus metrics (DD-039) on `registry`: live clients and
 * their subscriptions read from aedes at scrape time, counters from aedes's
 * events and from authorizeForward (which aedes calls once per delivery).
 * Nothing per packet is logged or allocated beyond a counter increment.
 */
export function createBrokerMetrics(registry: Registry): BrokerMetrics {
  const registers = [registry];
  let live: { aedes: Aedes; clientsOf: () => Record<string, Client> } | undefined;
  new Gauge({
    name: 'outpost_broker_connected_clients',
    help: 'MQTT clients connected to this broker process',
    registers,
    collect() {
      this.set(live?.aedes.connectedClients ?? 0);
    },
  });
  new Gauge({
    name: 'outpost_broker_subscriptions',
    help: 'Subscriptions (topic filters) of the clients connected to this broker process',
    registers,
    collect() {
      let n = 0;
      for (const client of Object.values(live?.clientsOf() ?? {})) n += subscriptionCount(client);
      this.set(n);
    },
  });
  const connects = new Counter({ name: 'outpost_broker_connects_total', help: 'Clients that completed CONNECT (CONNACK accepted)', registers });
  const disconnects = new Counter({ name: 'outpost_broker_disconnects_total', help: 'Client connections that ended', registers });
  const refusals = new Counter({
    name: 'outpost_broker_connect_refusals_total',
    help: 'CONNECTs refused, by CONNACK reason (bad-credentials and not-authorized are authentication failures)',
    labelNames: ['reason'],
    registers,
  });
  const subscribeRefusals = new Counter({ name: 'outpost_broker_subscribe_refusals_total', help: 'Topic filters refused by authorizeSubscribe', registers });
  const received = new Counter({ name: 'outpost_broker_messages_received_total', help: 'PUBLISH packets received from clients', registers });
  const forwarded = new Counter({
    name: 'outpost_broker_messages_forwarded_total',
    help: 'Deliveries of a message to a subscriber: delivered, or blocked by authorizeForward',
    labelNames: ['result'],
    registers,
  });
  const unreadable = new Counter({
    name: 'outpost_broker_store_unreadable_total',
    help: 'Stored packets that did not open (wrong store key, altered in Redis) and were dropped, by kind (DD-047)',
    labelNames: ['kind'],
    registers,
  });
  const queued = new Counter({
    name: 'outpost_broker_messages_queued_total',
    help: 'Messages queued in Redis for persistent sessions (one per subscriber queue): what offline or busy devices will get on delivery',
    registers,
  });
  const queueDrops = new Counter({
    name: 'outpost_broker_queue_dropped_total',
    help: 'Oldest queued messages dropped because a session queue reached its cap (--max-queued-messages)',
    registers,
  });
  const slowClientCuts = new Counter({
    name: 'outpost_broker_slow_clients_cut_total',
    help: 'Connections cut because their client left more than --max-outgoing-buffer-bytes unread (DD-050)',
    registers,
  });
  for (const reason of Object.values(CONNACK_REASONS)) refusals.inc({ reason }, 0);
  forwarded.inc({ result: 'delivered' }, 0);
  forwarded.inc({ result: 'blocked' }, 0);

  return {
    countUnreadable: (kind) => unreadable.inc({ kind }),
    countSlowClientCut: () => slowClientCuts.inc(),
    countQueued(n, dropped) {
      queued.inc(n);
      if (dropped > 0) queueDrops.inc(dropped);
    },
    attach(aedes, clientsOf) {
      live = { aedes, clientsOf };
      aedes.on('clientReady', () => connects.inc());
      aedes.on('clientDisconnect', () => disconnects.inc());
      aedes.on('connackSent', (packet) => {
        if (packet.returnCode !== 0) refusals.inc({ reason: CONNACK_REASONS[packet.returnCode ?? 0] ?? `code-${String(packet.returnCode)}` });
      });
      aedes.on('subscribe', (subscriptions: Subscription[]) => {
        const refused = subscriptions.filter((s) => Number(s.qos) === SUBACK_FAILURE).length;
        if (refused > 0) subscribeRefusals.inc(refused);
      });
      aedes.on('publish', (_packet, client) => {
        // client is null for the broker's own messages ($SYS heartbeats, wills).
        if (client) received.inc();
      });
    },
    countForward(authorize) {
      return (client, packet) => {
        const out = authorize(client, packet);
        forwarded.inc({ result: out ? 'delivered' : 'blocked' });
        return out;
      };
    },
  };
}

/** aedes keeps a client's filters in `client.subscriptions` (lib/client.js), not in its types. */
function subscriptionCount(client: Client): number {
  const subs: unknown = Reflect.get(client, 'subscriptions');
  return typeof subs === 'object' && subs !== null ? Object.keys(subs).length : 0;
}
