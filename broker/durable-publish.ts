import aedesPacket from 'aedes-packet';
import type { Aedes } from 'aedes';
import type { AuthorizePublish, PublishLike } from './auth/authorize-publish.js';

type PacketConstructor = new (original: object, broker: Aedes | undefined) => { brokerId?: string; brokerCounter?: number };

interface Subscriber {
  readonly clientId: string;
}

/** The parts of aedes's persistence a PUBLISH is made durable with (both of Outpost's persistences have them). */
export interface DurableStore {
  storeRetained(packet: unknown): Promise<void>;
  subscriptionsByTopic(topic: string): Promise<unknown[]>;
  outgoingEnqueueCombi(subs: ReadonlyArray<Subscriber> | null | undefined, packet: unknown): Promise<void>;
}

/**
 * Entries written early whose second write (aedes's own enqueueOffline) has
 * not come yet. aedes always enqueues right after it stores the retained
 * copy, so an entry stays here for one Redis round trip; the bound only
 * matters if a publish fails in between (its entry would never be claimed).
 */
const MAX_PENDING = 10_000;

/**
 * aedes 1.x sends the PUBACK of a QoS 1 PUBLISH *before* it stores the
 * retained copy and the offline queue entries (lib/handlers/publish.js), so
 * a broker kill -9 right after the PUBACK loses what the publisher saw
 * acknowledged: a desired document (DD-010), or a command queued for an
 * offline device (DD-058). Wrapping authorizePublish, which runs before the
 * PUBACK, stores both first:
 * - the retained copy (aedes stores it again: the same value);
 * - the queue entries of the persistent sessions subscribed to the topic,
 *   under the broker id and counter the PUBLISH is then given, so aedes's
 *   own enqueue of that packet is recognised and skipped (it would queue
 *   the message twice).
 * A failed write refuses the PUBLISH: no PUBACK, the publisher sends it again.
 */
export function withDurablePublish(authorize: AuthorizePublish, store: DurableStore, broker: () => Aedes | undefined): AuthorizePublish {
  const pending = new Set<string>();
  const enqueue = store.outgoingEnqueueCombi.bind(store);
  store.outgoingEnqueueCombi = (subs, packet) => {
    const key = entryKey(packet);
    if (key !== undefined && pending.delete(key)) return Promise.resolve();
    return enqueue(subs, packet);
  };

  const Packet = aedesPacket as unknown as PacketConstructor;
  async function persist(p: PublishLike & { retain?: boolean; qos?: number; brokerId?: string; brokerCounter?: number }): Promise<void> {
    // The id and counter aedes's publish() keeps (aedes-packet copies them): the queue entry's key.
    const stamped = new Packet(p, broker());
    p.brokerId = stamped.brokerId;
    p.brokerCounter = stamped.brokerCounter;
    if (p.retain) await store.storeRetained(stamped);
    if (p.topic.startsWith('$SYS')) return;
    const subs = (await store.subscriptionsByTopic(p.topic)) as Subscriber[];
    if (subs.length === 0) return;
    const key = entryKey(stamped);
    await enqueue(subs, stamped);
    if (key === undefined) return;
    if (pending.size >= MAX_PENDING) pending.delete(pending.values().next().value as string);
    pending.add(key);
  }

  return (client, packet, callback) => {
    authorize(client, packet, (err) => {
      const p = packet as PublishLike & { retain?: boolean; qos?: number };
      if (err || client === null || !p.qos) return callback(err);
      persist(p).then(
        () => callback(null),
        (storeErr: unknown) => callback(storeErr instanceof Error ? storeErr : new Error(String(storeErr))),
      );
    });
  };
}

function entryKey(packet: unknown): string | undefined {
  const p = packet as { brokerId?: unknown; brokerCounter?: unknown };
  return typeof p.brokerId === 'string' && typeof p.brokerCounter === 'number' ? `${p.brokerId}:${p.brokerCounter}` : undefined;
}
