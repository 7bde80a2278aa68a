import type { Redis } from 'ioredis';
import msgpack from 'msgpack-lite';
import { persistenceKeys } from '../../broker/persistence/keys.js';
import { PERSISTENCE_KEY_SUFFIX } from '../../broker/persistence/create-persistence.js';
import { PERSISTENCE_KINDS, type PersistenceKind } from '../../broker/persistence/kinds.js';
import { encode, packetCodec } from '../../broker/persistence/codec.js';
import type { PacketSeal } from '../../broker/persistence/packet-seal.js';

export { PERSISTENCE_KINDS, type PersistenceKind };

/** A will as stored: which broker stored it for which client. */
export interface StoredWill {
  brokerId: string;
  clientId: string;
}

/**
 * Reads (and, for tests of the sweeps, plants) the broker's persistence state
 * in Redis directly, as an operator would, for either persistence (DD-028):
 * the broker tests run against both with the same assertions.
 */
export interface PersistenceProbe {
  readonly kind: PersistenceKind;
  /** Entries in the client's offline queue. */
  queueLength(clientId: string): Promise<number>;
  /** The queued packets of the client, oldest first, decoded. */
  queued(clientId: string): Promise<Array<Record<string, unknown>>>;
  /** Stored queued messages of every client (a message queued for two clients counts once for legacy, twice for outpost). */
  storedPackets(): Promise<number>;
  /** The stored retained packet, msgpack (opened first when the broker seals, DD-047). */
  retained(topic: string): Promise<Buffer | null>;
  /** The hash of every retained message. */
  readonly retainedKey: string;
  /** The filters stored in the client's session. */
  subscriptions(clientId: string): Promise<string[]>;
  /** Whether anything of the client's session (subscriptions, queue) is left, and whether it is listed as a session. */
  session(clientId: string): Promise<{ stored: boolean; listed: boolean }>;
  wills(): Promise<StoredWill[]>;
  /** Writes a will as a broker that died with the client connected would have left it. */
  plantWill(will: StoredWill): Promise<void>;
  /** Whether a key belongs to the persistence (as opposed to Outpost's own keys). */
  ownsKey(key: string): boolean;
  /** Whether a key holds inbound QoS 2 state. */
  isIncomingKey(key: string): boolean;
}

/** `seal`: the broker's store key (DD-047), to open what it sealed; values stored in clear are read either way. */
export function persistenceProbe(kind: PersistenceKind, admin: Redis, keyPrefix = 'outpost:', seal?: PacketSeal): PersistenceProbe {
  return kind === 'outpost' ? outpostProbe(admin, keyPrefix, seal) : legacyProbe(admin);
}

function outpostProbe(admin: Redis, keyPrefix: string, seal: PacketSeal | undefined): PersistenceProbe {
  const keys = persistenceKeys(`${keyPrefix}${PERSISTENCE_KEY_SUFFIX}`);
  const codec = packetCodec(seal);
  return {
    kind: 'outpost',
    queueLength: (id) => admin.llen(keys.queue(id)),
    async queued(id) {
      const entries = await admin.lrange(keys.queue(id), 0, -1);
      if (entries.length === 0) return [];
      const packets = await admin.hmgetBuffer(keys.queuePackets(id), ...entries);
      return packets.flatMap((p, i) => (p ? [codec.unpack<Record<string, unknown>>({ kind: 'queue', entry: entries[i] ?? '' }, p)] : []));
    },
    async storedPackets() {
      let total = 0;
      for await (const batch of admin.scanStream({ match: `${keys.prefix}qp:*`, count: 1000 }) as AsyncIterable<string[]>) {
        for (const key of batch) total += await admin.hlen(key);
      }
      return total;
    },
    async retained(topic) {
      const stored = await admin.hgetBuffer(keys.retained, topic);
      return stored ? encode(codec.unpack({ kind: 'retained', topic }, stored)) : null;
    },
    retainedKey: keys.retained,
    subscriptions: (id) => admin.hkeys(keys.subs(id)),
    async session(id) {
      const [stored, listed] = await Promise.all([admin.exists(keys.subs(id), keys.queue(id), keys.queuePackets(id)), admin.sismember(keys.clients, id)]);
      return { stored: stored > 0, listed: listed === 1 };
    },
    async wills() {
      const ids = await admin.smembers(keys.wills);
      const out: StoredWill[] = [];
      for (const encoded of ids) {
        const clientId = decodeURIComponent(encoded);
        const brokerId = await admin.hget(keys.will(clientId), 'b');
        if (brokerId !== null) out.push({ brokerId, clientId });
      }
      return out;
    },
    async plantWill({ brokerId, clientId }) {
      const packet = msgpack.encode({ clientId, brokerId, topic: 'planted', payload: Buffer.alloc(0), qos: 0, retain: false });
      await admin.hset(keys.will(clientId), 'b', brokerId, 'p', packet);
      await admin.sadd(keys.wills, encodeURIComponent(clientId));
    },
    ownsKey: (key) => key.startsWith(keys.prefix) || !key.startsWith(keyPrefix),
    isIncomingKey: (key) => key.startsWith(`${keys.prefix}in:`),
  };
}

/** aedes-persistence-redis 11.2's layout (asyncPersistence.js). */
function legacyProbe(admin: Redis): PersistenceProbe {
  const queue = (id: string): string => `outgoing:${encodeURIComponent(id)}`;
  return {
    kind: 'legacy',
    queueLength: (id) => admin.llen(queue(id)),
    async queued(id) {
      const entries = await admin.lrange(queue(id), 0, -1);
      const out: Array<Record<string, unknown>> = [];
      for (const entry of entries) {
        const value = await admin.getBuffer(entry);
        out.push(value ? (msgpack.decode(value) as Record<string, unknown>) : { entry });
      }
      return out;
    },
    async storedPackets() {
      return (await admin.keys('packet:*')).filter((k) => !k.endsWith(':offlineCount')).length;
    },
    retained: (topic) => admin.hgetBuffer('retained', topic),
    retainedKey: 'retained',
    subscriptions: (id) => admin.hkeys(`client:${encodeURIComponent(id)}`),
    async session(id) {
      const [stored, listed] = await Promise.all([admin.exists(`client:${encodeURIComponent(id)}`, queue(id)), admin.sismember('clients', id)]);
      return { stored: stored > 0, listed: listed === 1 };
    },
    async wills() {
      const list = await admin.lrange('will', 0, -1);
      return list.flatMap((key) => {
        const split = key.lastIndexOf(':');
        if (!key.startsWith('will:') || split <= 5) return [];
        return [{ brokerId: key.slice(5, split), clientId: decodeURIComponent(key.slice(split + 1)) }];
      });
    },
    async plantWill({ brokerId, clientId }) {
      const key = `will:${brokerId}:${encodeURIComponent(clientId)}`;
      // 0x80: an empty msgpack map.
      await admin.set(key, Buffer.from([0x80]));
      await admin.rpush('will', key);
    },
    ownsKey: (key) => !key.startsWith('outpost:'),
    isIncomingKey: (key) => key.startsWith('incoming:'),
  };
}
