import { createRequire } from 'node:module';
import aedesPacket from 'aedes-packet';
import type { Redis } from 'ioredis';
import { OutpostError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { clip } from './auth/log-fields.js';
import type { Persistence } from './persistence.js';

/**
 * Most queue entries one call releases. Normal enqueues drop one entry at a
 * time; the bound only matters for a queue left over-long by an older broker,
 * which is then shortened over several calls instead of blocking Redis for
 * the length of one huge script.
 */
export const MAX_RELEASES_PER_CALL = 500;
/** In-flight (client, message id) → packet key entries kept; older ones are forgotten first. */
const MAX_IN_FLIGHT_IDS = 100_000;

/**
 * Key layout of aedes-persistence-redis 11.2 (asyncPersistence.js), which the
 * rest of the persistence (replay, subscriptions) keeps using:
 * - `outgoing:<encodeURIComponent(clientId)>`: list of packet keys queued for the client, oldest first;
 * - `packet:<brokerId>:<brokerCounter>`: the message, shared by every client it is queued for;
 * - `packet:<brokerId>:<brokerCounter>:offlineCount`: how many queue entries refer to it.
 * The count is the invariant every script below keeps: a packet and its count
 * are deleted when the last entry referring to it goes, never before.
 */
const queueKey = (clientId: string): string => `outgoing:${encodeURIComponent(clientId)}`;
const packetKey = (brokerId: string, brokerCounter: number | string): string => `packet:${brokerId}:${brokerCounter}`;

/**
 * Drops one queue entry's reference. An `outgoing:<client>:<broker>:<counter>`
 * entry is a PUBREL record written by the QoS 2 flow of older brokers: while
 * its key exists, the packet's count still includes it.
 */
const RELEASE = `
local function release(entry)
  if not entry then return end
  if string.sub(entry, 1, 7) == 'packet:' then
    local count = entry .. ':offlineCount'
    if redis.call('DECR', count) <= 0 then redis.call('DEL', entry, count) end
  elseif redis.call('DEL', entry) == 1 then
    local broker, counter = string.match(entry, ':([^:]+):([^:]+)$')
    if broker then release('packet:' .. broker .. ':' .. counter) end
  end
end
`;

/** KEYS: packet, its count, one queue per subscriber. ARGV: encoded packet, cap, max releases. Returns entries dropped. */
const ENQUEUE = `${RELEASE}
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], #KEYS - 2)
local cap, budget, dropped = tonumber(ARGV[2]), tonumber(ARGV[3]), 0
for i = 3, #KEYS do
  local excess = math.min(redis.call('RPUSH', KEYS[i], KEYS[1]) - cap, budget)
  for _ = 1, excess do
    release(redis.call('LPOP', KEYS[i]))
    dropped = dropped + 1
  end
end
return dropped
`;

/** KEYS: queue, packet. Returns the packet (nil if gone); drops the reference only if the queue still held it. */
const CLEAR = `
local removed = redis.call('LREM', KEYS[1], 0, KEYS[2])
local packet = redis.call('GET', KEYS[2])
if removed > 0 then
  local count = KEYS[2] .. ':offlineCount'
  if redis.call('DECRBY', count, removed) <= 0 then redis.call('DEL', KEYS[2], count) end
end
return packet
`;

/** KEYS: queue. ARGV: max releases. Releases the oldest entries; returns what is left. */
const DRAIN = `${RELEASE}
for _ = 1, tonumber(ARGV[1]) do
  local entry = redis.call('LPOP', KEYS[1])
  if not entry then return 0 end
  release(entry)
end
return redis.call('LLEN', KEYS[1])
`;

/** KEYS: subscription hash, queue. ARGV: max releases, topics. Like DRAIN once no subscription is left, else -1. */
const UNSUBSCRIBE = `${RELEASE}
redis.call('HDEL', KEYS[1], unpack(ARGV, 2))
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
for _ = 1, tonumber(ARGV[1]) do
  local entry = redis.call('LPOP', KEYS[2])
  if not entry then return 0 end
  release(entry)
end
return redis.call('LLEN', KEYS[2])
`;

interface Codec {
  encode(value: unknown): Buffer;
  decode(buffer: Buffer): unknown;
}

/**
 * The persistence's own msgpack-lite, resolved from where it resolves it, so
 * what is written here is byte-for-byte what its replay code reads.
 */
function persistenceCodec(): Codec {
  const fromHere = createRequire(import.meta.url);
  const codec: unknown = createRequire(fromHere.resolve('aedes-persistence-redis'))('msgpack-lite');
  const { encode, decode } = (codec ?? {}) as Partial<Codec>;
  if (typeof encode !== 'function' || typeof decode !== 'function') {
    throw new Error('aedes-persistence-redis no longer uses msgpack-lite: check broker/outgoing-queue.ts against the installed version');
  }
  return { encode, decode };
}

type PacketConstructor = new (original: object) => object;

interface QueuedPacket {
  cmd?: string;
  brokerId?: string | null;
  brokerCounter?: number | string;
  messageId?: number;
}

type ScriptFn = (...args: Array<string | number | Buffer>) => Promise<unknown>;

/** One Lua script on one connection; ioredis sends EVALSHA and falls back to EVAL. */
function script(redis: Redis, name: string, lua: string, buffers = false): ScriptFn {
  redis.defineCommand(name, { lua });
  const fn: unknown = Reflect.get(redis, buffers ? `${name}Buffer` : name);
  if (typeof fn !== 'function') throw new Error(`ioredis did not define ${name}`);
  return (...args) => (fn as ScriptFn).apply(redis, args);
}

/**
 * Which packet key each message id in flight to a client stands for, so a
 * PUBACK can find its queue entry. Forgetting an entry is safe: the message
 * then stays queued and is replayed on the next connect (at least once).
 */
class InFlightIds {
  readonly #keys = new Map<string, string>();

  set(clientId: string, messageId: number, key: string): void {
    const id = `${clientId}\n${messageId}`;
    this.#keys.delete(id);
    this.#keys.set(id, key);
    if (this.#keys.size > MAX_IN_FLIGHT_IDS) {
      const oldest = this.#keys.keys().next();
      if (!oldest.done) this.#keys.delete(oldest.value);
    }
  }

  take(clientId: string, messageId: number): string | undefined {
    const id = `${clientId}\n${messageId}`;
    const key = this.#keys.get(id);
    this.#keys.delete(id);
    return key;
  }
}

export interface OutgoingQueueOptions {
  /** Longest queue of a persistent session; the oldest entries are dropped beyond it. */
  maxQueuedMessages: number;
  logger: Logger;
}

export interface OutgoingQueues {
  /** Releases and deletes a client's whole queue, in steps of at most MAX_RELEASES_PER_CALL entries. */
  release(clientId: string): Promise<void>;
}

/**
 * DD-020. aedes-persistence-redis keeps a persistent session's QoS 1 queue
 * without any bound, so a device offline for long, or a subscriber that never
 * acknowledges, grows Redis forever. This takes over the queue operations of
 * the persistence (same keys and encoding, so its replay keeps working):
 *
 * - enqueue keeps at most `maxQueuedMessages` entries per client, dropping the
 *   OLDEST: the desired document is retained and versioned, so the newest
 *   messages are the ones worth keeping, and the retained copy reaches the
 *   device on its next SUBSCRIBE whatever the queue lost;
 * - a PUBACK drops a packet's reference only if that client's queue still
 *   held the entry: the upstream code decrements unconditionally, which after
 *   a drop would delete a packet still queued for someone else, or leave one
 *   behind forever;
 * - the write that records an in-flight message id only updates a packet that
 *   still exists (SET XX): upstream's plain SET would recreate one dropped in
 *   the meantime, with no queue entry or count left to ever delete it;
 * - when a client's last subscription goes (a clean=true CONNECT, the session
 *   sweep), its queue entries are released before upstream deletes the list,
 *   which on its own leaks every packet the list referred to;
 * - a PUBREC is refused: the broker never sends QoS 2 (no QoS 2 message is
 *   accepted), so one is a protocol error, and refusing it keeps every queue
 *   entry a plain packet key.
 *
 * Each operation is one Lua script, i.e. one round trip (upstream: 2 + one per
 * subscriber to enqueue, 4 to acknowledge). Standalone Redis only: the scripts
 * touch keys derived from queue entries, which Redis Cluster does not allow.
 */
export function boundOutgoingQueues(persistence: Persistence, redis: Redis, options: OutgoingQueueOptions): OutgoingQueues {
  const { maxQueuedMessages, logger } = options;
  const codec = persistenceCodec();
  const Packet = aedesPacket as unknown as PacketConstructor;
  const inFlight = new InFlightIds();
  const enqueue = script(redis, 'outpostQueueEnqueue', ENQUEUE);
  const clear = script(redis, 'outpostQueueClear', CLEAR, true);
  const drain = script(redis, 'outpostQueueDrain', DRAIN);
  const unsubscribe = script(redis, 'outpostQueueUnsubscribe', UNSUBSCRIBE);

  async function drainRest(clientId: string, left: number): Promise<void> {
    while (left > 0) left = Number(await drain(1, queueKey(clientId), MAX_RELEASES_PER_CALL));
  }

  persistence.outgoingEnqueueCombi = async (subs, packet) => {
    if (!subs || subs.length === 0) return;
    const p = packet as QueuedPacket;
    if (!p.brokerId || p.brokerCounter === undefined) throw new Error('queued packet has no broker id or counter');
    const key = packetKey(p.brokerId, p.brokerCounter);
    const lists = subs.map((sub) => queueKey(sub.clientId));
    const dropped = Number(
      await enqueue(2 + lists.length, key, `${key}:offlineCount`, ...lists, codec.encode(new Packet(packet as object)), maxQueuedMessages, MAX_RELEASES_PER_CALL),
    );
    if (dropped > 0) logger.debug({ dropped, subscribers: subs.length, maxQueuedMessages }, 'oldest queued messages dropped');
  };
  persistence.outgoingEnqueue = (sub, packet) => persistence.outgoingEnqueueCombi([sub], packet);

  persistence.outgoingUpdate = async (client, packet) => {
    const p = packet as QueuedPacket;
    if (p.cmd === 'pubrel') {
      logger.warn({ clientId: clip(client.id), code: 'QOS_NOT_ALLOWED' }, 'PUBREC refused: the broker never sends QoS 2');
      throw new OutpostError('QOS_NOT_ALLOWED', 'PUBREC for a message the broker sent at QoS 1');
    }
    if (!p.brokerId || p.brokerCounter === undefined || p.messageId === undefined) throw new Error('unknown key');
    const key = packetKey(p.brokerId, p.brokerCounter);
    inFlight.set(client.id, p.messageId, key);
    // Stored with its message id so a replay re-sends it under the same id [MQTT-4.4.0-1].
    await redis.set(key, codec.encode(packet), 'XX');
  };

  persistence.outgoingClearMessageId = async (client, packet) => {
    const messageId = (packet as QueuedPacket).messageId;
    const key = messageId === undefined ? undefined : inFlight.take(client.id, messageId);
    if (key === undefined) return undefined;
    const stored = await clear(2, queueKey(client.id), key);
    if (!Buffer.isBuffer(stored)) return undefined;
    const original = codec.decode(stored) as QueuedPacket;
    original.messageId = messageId;
    return original;
  };

  const removeSubscriptions = persistence.removeSubscriptions.bind(persistence);
  persistence.removeSubscriptions = async (client, topics) => {
    if (topics.length > 0) {
      const left = Number(await unsubscribe(2, `client:${encodeURIComponent(client.id)}`, queueKey(client.id), MAX_RELEASES_PER_CALL, ...topics));
      await drainRest(client.id, left);
    }
    // Deletes the (now empty) list, updates the client set and tells every broker.
    return removeSubscriptions(client, topics);
  };

  return {
    release: (clientId) => drainRest(clientId, 1),
  };
}
