import { randomUUID } from 'node:crypto';
import QlobberSub, { type TrieSub } from 'qlobber/aedes/qlobber-sub.js';
import { z } from 'zod';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';

/** aedes's own trie options, so matching is exactly what its emitter does [MQTT-4.7.1-3]. */
export const QLOBBER_OPTIONS = { separator: '/', wildcard_one: '+', wildcard_some: '#', match_empty_levels: true } as const;

/** Where the brokers sharing this Redis tell each other about subscription changes. */
const CHANGE_TOPIC = '$SYS/outpost/persistence/subscriptions';

/** What aedes hands a persistence as `broker` (setup), as far as the index needs it. */
export interface IndexBroker {
  readonly id: string;
  publish(packet: { topic: string; payload: Buffer; qos?: number; retain?: boolean }, done: (err?: unknown) => void): void;
  subscribe(topic: string, fn: (packet: { payload: unknown }, cb: () => void) => void, done: (err?: unknown) => void): void;
  unsubscribe(topic: string, fn: (packet: { payload: unknown }, cb: () => void) => void, done?: (err?: unknown) => void): void;
}

export interface IndexedSub {
  topic: string;
  qos?: number;
  rh?: number;
  rap?: boolean;
  nl?: boolean;
}

const Change = z.object({
  origin: z.string(),
  clientId: z.string(),
  add: z.array(z.object({ topic: z.string(), qos: z.number().optional(), rh: z.number().optional(), rap: z.boolean().optional(), nl: z.boolean().optional() })),
  remove: z.array(z.string()),
});
type Change = z.infer<typeof Change>;

/**
 * The in-memory index aedes matches every PUBLISH against
 * (subscriptionsByTopic): QoS > 0 subscriptions of persistent sessions.
 * Changed here synchronously, in call order, before the Redis write is even
 * sent, so a caller never waits for a broadcast of its own (unlike
 * aedes-persistence's BroadcastPersistence, whose per-client waiter key made
 * concurrent SUBSCRIBEs hang); other brokers on the same Redis learn of the
 * change from a message they apply, and this broker ignores its own.
 */
export class SubscriptionIndex {
  readonly #trie = new QlobberSub(QLOBBER_OPTIONS);
  readonly #origin = randomUUID();
  readonly #logger: Logger;
  #broker: IndexBroker | undefined;
  readonly #onChange = (packet: { payload: unknown }, cb: () => void): void => {
    try {
      const change = Change.parse(JSON.parse(String(packet.payload)));
      if (change.origin !== this.#origin) this.#apply(change);
    } catch (err) {
      this.#logger.warn({ err: errorMessage(err) }, 'subscription change message ignored');
    }
    cb();
  };

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  get count(): number {
    return this.#trie.subscriptionsCount;
  }

  /** Starts hearing other brokers' changes. */
  listen(broker: IndexBroker): Promise<void> {
    this.#broker = broker;
    return new Promise((resolve, reject) => broker.subscribe(CHANGE_TOPIC, this.#onChange, (err) => (err ? reject(toError(err)) : resolve())));
  }

  stop(): Promise<void> {
    const broker = this.#broker;
    this.#broker = undefined;
    if (!broker) return Promise.resolve();
    return new Promise((resolve) => broker.unsubscribe(CHANGE_TOPIC, this.#onChange, () => resolve()));
  }

  /** A stored session's subscriptions, at startup: not broadcast. */
  load(clientId: string, subs: readonly IndexedSub[]): void {
    this.#apply({ origin: this.#origin, clientId, add: [...subs], remove: [] });
  }

  added(clientId: string, subs: readonly IndexedSub[]): void {
    this.#change({ origin: this.#origin, clientId, add: subs.map(indexed), remove: [] });
  }

  removed(clientId: string, topics: readonly string[]): void {
    if (topics.length > 0) this.#change({ origin: this.#origin, clientId, add: [], remove: [...topics] });
  }

  match(topic: string): TrieSub[] {
    return this.#trie.match(topic);
  }

  /** Ids of clients subscribed to exactly this topic. */
  *clientsOf(topic: string): Generator<string> {
    for (const entry of this.#trie.match(topic, topic)) yield entry.clientId;
  }

  #change(change: Change): void {
    this.#apply(change);
    const broker = this.#broker;
    if (!broker) return;
    // Not awaited: the write to Redis is the operation; the other brokers' copy follows.
    broker.publish({ topic: CHANGE_TOPIC, payload: Buffer.from(JSON.stringify(change)), qos: 0, retain: false }, (err) => {
      if (err) this.#logger.warn({ err: errorMessage(err) }, 'subscription change not broadcast');
    });
  }

  #apply(change: Change): void {
    for (const sub of change.add) {
      // Same as aedes's memory persistence: a QoS 0 subscription replaces a stored QoS > 0 one and is not matched.
      if ((sub.qos ?? 0) > 0) this.#trie.add(sub.topic, { ...indexed(sub), clientId: change.clientId });
      else this.#trie.remove(sub.topic, { clientId: change.clientId, topic: sub.topic });
    }
    for (const topic of change.remove) this.#trie.remove(topic, { clientId: change.clientId, topic });
  }
}

function indexed(sub: IndexedSub): IndexedSub {
  return { topic: sub.topic, qos: sub.qos, rh: sub.rh, rap: sub.rap, nl: sub.nl };
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
