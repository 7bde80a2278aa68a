import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import aedesPacket from 'aedes-packet';
import type { Redis } from 'ioredis';
import { errorMessage, OutpostError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { clip } from '../auth/log-fields.js';
import { decode, encode, packetCodec, type PacketCodec, type PacketPlace } from './codec.js';
import { persistenceKeys, type PersistenceKeys } from './keys.js';
import type { PacketSeal, StoreSealError } from './packet-seal.js';
import { lookUpRetained } from './retained-lookup.js';
import { defineScripts, type PersistenceScripts } from './scripts.js';
import { SubscriptionIndex, type IndexBroker, type IndexedSub } from './subscription-index.js';

/** Most entries one enqueue drops from an over-long queue (one left by a larger cap); the rest go on later enqueues. */
const MAX_DROPS_PER_ENQUEUE = 500;
/** Stored sessions loaded per round trip at startup, and wills read per round trip by the will sweep. */
const BATCH = 500;
/** No cap: what aedes-persistence's own suite expects. Outpost always passes maxQueuedMessages. */
const UNBOUNDED = 2 ** 31 - 1;

type PacketConstructor = new (original: object, broker?: unknown) => Record<string, unknown>;
const Packet = aedesPacket as unknown as PacketConstructor;

export interface OutpostPersistenceOptions {
  /** The connection it uses; destroy() disconnects it. Waiting out outages is the connection's business (maxRetriesPerRequest: null). */
  redis: Redis;
  /** Prefix of every key it writes (keys.ts). */
  keyPrefix: string;
  logger: Logger;
  /** Queued messages handed to aedes per CONNECT (default 1000). */
  maxSessionDelivery?: number;
  /** Longest queue of a persistent session; the OLDEST entries are dropped beyond it (DD-020). Default: unbounded. */
  maxQueuedMessages?: number;
  /**
   * Whether the broker sends QoS 2 (default true, as aedes may). Outpost's
   * broker never does, so a PUBREC from a client is a protocol error: refused
   * (QOS_NOT_ALLOWED), and every queue entry stays a plain PUBLISH.
   */
  outboundQos2?: boolean;
  /** DD-047: seals every stored packet that carries a payload; absent, they are stored in clear. */
  seal?: PacketSeal;
  /** Called once per stored packet that could not be opened (and was dropped or skipped). */
  onUnreadable?: (kind: PacketPlace['kind']) => void;
  /** Called per enqueue with the queues written (one per subscriber) and the oldest entries dropped for maxQueuedMessages. */
  onEnqueued?: (queued: number, dropped: number) => void;
}

interface Client {
  readonly id: string;
  readonly brokerId?: string;
  /** Set on aedes's own client object at CONNECT when a will follows (lib/handlers/connect.js storeWill). */
  readonly will?: unknown;
}

interface QueuedPacket {
  cmd?: string;
  brokerId?: string | null;
  brokerCounter?: number | string;
  messageId?: number;
  payload?: Buffer | string;
  topic?: string;
}

/**
 * DD-028. An aedes persistence (aedes-persistence 11's async interface, what
 * aedes 1.2 calls) on Redis in which each operation is one round trip (one
 * Lua script or command), everything is keyed per client, retained lookups of
 * exact topics are one HMGET, and offline queues are bounded.
 */
export class OutpostPersistence extends EventEmitter {
  readonly #redis: Redis;
  readonly #keys: PersistenceKeys;
  readonly #scripts: PersistenceScripts;
  readonly #index: SubscriptionIndex;
  readonly #logger: Logger;
  readonly #maxSessionDelivery: number;
  readonly #maxQueued: number;
  readonly #outboundQos2: boolean;
  readonly #codec: PacketCodec;
  readonly #onUnreadable: (kind: PacketPlace['kind']) => void;
  readonly #onEnqueued: (queued: number, dropped: number) => void;
  /** aedes stores the whole subscription list once per granted filter of one SUBSCRIBE: one write is enough. */
  readonly #pendingAdds = new WeakMap<object, Promise<void>>();
  #broker: IndexBroker | undefined;
  #destroyed = false;

  constructor(options: OutpostPersistenceOptions) {
    super();
    this.#redis = options.redis;
    this.#keys = persistenceKeys(options.keyPrefix);
    this.#scripts = defineScripts(options.redis);
    this.#logger = options.logger;
    this.#index = new SubscriptionIndex(options.logger);
    this.#maxSessionDelivery = options.maxSessionDelivery ?? 1000;
    this.#maxQueued = options.maxQueuedMessages ?? UNBOUNDED;
    this.#outboundQos2 = options.outboundQos2 ?? true;
    this.#codec = packetCodec(options.seal);
    this.#onUnreadable = options.onUnreadable ?? (() => undefined);
    this.#onEnqueued = options.onEnqueued ?? (() => undefined);
  }

  /**
   * DD-047: opens a stored packet, or reports one that does not open (wrong
   * key, altered, sealed while this broker has no key) and returns undefined:
   * the caller drops it. One bad value never stops the others being served.
   */
  #open(place: PacketPlace, stored: Buffer, clientId?: string): Record<string, unknown> | undefined {
    try {
      return this.#codec.unpack(place, stored);
    } catch (err) {
      const code = (err as Partial<StoreSealError>).code ?? 'BROKER_STORE_MALFORMED';
      this.#onUnreadable(place.kind);
      this.#logger.error({ code, kind: place.kind, ...(clientId !== undefined ? { clientId: clip(clientId) } : {}), err: errorMessage(err) }, 'stored packet unreadable, dropped');
      return undefined;
    }
  }

  get broker(): IndexBroker | undefined {
    return this.#broker;
  }

  /** Loads the subscription index of every stored session, then hears other brokers' changes. */
  async setup(broker: IndexBroker): Promise<void> {
    this.#broker = broker;
    let cursor = '0';
    do {
      const [next, ids] = await this.#redis.sscan(this.#keys.clients, cursor, 'COUNT', BATCH);
      cursor = next;
      if (ids.length === 0) continue;
      const replies = (await this.#redis.pipeline(ids.map((id) => ['hgetallBuffer', this.#keys.subs(id)])).exec()) ?? [];
      for (const [i, id] of ids.entries()) {
        const [err, hash] = replies[i] ?? [new Error('missing reply'), null];
        if (err) throw err;
        this.#index.load(id, subsOf(hash as Record<string, Buffer>));
      }
    } while (cursor !== '0');
    await this.#index.listen(broker);
  }

  async storeRetained(packet: QueuedPacket): Promise<void> {
    const topic = packet.topic ?? '';
    if (packet.payload === undefined || packet.payload.length === 0) await this.#redis.hdel(this.#keys.retained, topic);
    else await this.#redis.hset(this.#keys.retained, topic, this.#codec.pack({ kind: 'retained', topic }, { ...packet }));
  }

  /**
   * Never emits 'error': aedes pipes it without an error handler
   * (lib/handlers/subscribe.js). A failed lookup is logged and ends the
   * stream; the subscription stands, without its retained message.
   */
  createRetainedStreamCombi(patterns: string[]): Readable {
    const logger = this.#logger;
    const source = lookUpRetained(this.#redis, this.#keys.retained, [...patterns], (topic, stored) => this.#open({ kind: 'retained', topic }, stored));
    return Readable.from(
      (async function* () {
        try {
          yield* source;
        } catch (err) {
          logger.warn({ err: errorMessage(err), topics: patterns.length }, 'retained message lookup failed');
        }
      })(),
    );
  }

  createRetainedStream(pattern: string): Readable {
    return this.createRetainedStreamCombi([pattern]);
  }

  addSubscriptions(client: Client, subs: readonly IndexedSub[]): Promise<void> {
    const pending = this.#pendingAdds.get(subs);
    if (pending) return pending;
    // The last one per topic wins, as in aedes's dedupe and its memory persistence.
    const byTopic = new Map<string, IndexedSub>();
    for (const sub of subs) byTopic.set(sub.topic, sub);
    const unique = [...byTopic.values()];
    this.#index.added(client.id, subs);
    const args = unique.flatMap((sub) => [sub.topic, encode(storedSub(sub))]);
    const done = unique.length === 0 ? Promise.resolve() : this.#scripts.addSubscriptions([this.#keys.subs(client.id), this.#keys.clients], [client.id, ...args]).then(() => undefined);
    // Only while it runs: a later call with the same (mutated) array is a new change.
    this.#pendingAdds.set(subs, done);
    const forget = (): void => void this.#pendingAdds.delete(subs);
    done.then(forget, forget);
    return done;
  }

  async removeSubscriptions(client: Client, topics: readonly string[]): Promise<void> {
    if (topics.length === 0) return;
    this.#index.removed(client.id, topics);
    const [subs, queue, packets, messageIds] = this.#keys.session(client.id);
    await this.#scripts.removeSubscriptions([subs, queue, packets, messageIds, this.#keys.clients], [client.id, ...topics]);
  }

  async subscriptionsByClient(client: Client): Promise<Array<IndexedSub & { qos: number }>> {
    return subsOf(await this.#redis.hgetallBuffer(this.#keys.subs(client.id))) as Array<IndexedSub & { qos: number }>;
  }

  async countOffline(): Promise<{ subsCount: number; clientsCount: number }> {
    return { subsCount: this.#index.count, clientsCount: await this.#redis.scard(this.#keys.clients) };
  }

  async subscriptionsByTopic(topic: string): Promise<unknown[]> {
    return this.#index.match(topic);
  }

  /** Ends the session: subscriptions, queue and in-flight state, in one script (a clean=true CONNECT, the session sweep). */
  async cleanSubscriptions(client: Client): Promise<void> {
    const [subs, queue, packets, messageIds] = this.#keys.session(client.id);
    const topics = await this.#scripts.cleanSession([subs, queue, packets, messageIds, this.#keys.clients], [client.id]);
    this.#index.removed(client.id, topics);
  }

  /** Like cleanSubscriptions, and the inbound QoS 2 state too: everything a session sweep removes. */
  async removeSession(clientId: string): Promise<void> {
    const [subs, queue, packets, messageIds] = this.#keys.session(clientId);
    const topics = await this.#scripts.cleanSession([subs, queue, packets, messageIds, this.#keys.clients, this.#keys.incoming(clientId)], [clientId]);
    this.#index.removed(clientId, topics);
  }

  outgoingEnqueue(sub: { clientId: string }, packet: QueuedPacket): Promise<void> {
    return this.outgoingEnqueueCombi([sub], packet);
  }

  async outgoingEnqueueCombi(subs: ReadonlyArray<{ clientId: string }> | null | undefined, packet: QueuedPacket): Promise<void> {
    if (!subs || subs.length === 0) return;
    const keys = subs.flatMap((s) => [this.#keys.queue(s.clientId), this.#keys.queuePackets(s.clientId)]);
    // One sealed copy for every subscriber's queue: bound to the entry, which is the same in each.
    const entry = entryOf(packet);
    const dropped = await this.#scripts.enqueue(keys, [entry, this.#codec.pack({ kind: 'queue', entry }, new Packet(packet)), this.#maxQueued, MAX_DROPS_PER_ENQUEUE]);
    this.#onEnqueued(subs.length, dropped);
    if (dropped > 0) this.#logger.debug({ dropped, subscribers: subs.length, maxQueuedMessages: this.#maxQueued }, 'oldest queued messages dropped');
  }

  /**
   * Records the message id a queued packet is sent under, so a replay re-sends
   * it under the same id [MQTT-4.4.0-1] and its PUBACK finds it. An entry no
   * longer queued is not recreated (and not an error: aedes would drop the
   * connection for it).
   */
  async outgoingUpdate(client: Client, packet: QueuedPacket): Promise<void> {
    if (packet.messageId === undefined || packet.messageId === null) return;
    let stored: Buffer;
    let entry = '';
    if (packet.cmd === 'pubrel') {
      if (!this.#outboundQos2) {
        this.#logger.warn({ clientId: clip(client.id), code: 'QOS_NOT_ALLOWED' }, 'PUBREC refused: the broker never sends QoS 2');
        throw new OutpostError('QOS_NOT_ALLOWED', 'PUBREC for a message the broker sent at QoS 1');
      }
      // No payload: stays in clear, read like any value stored in clear.
      stored = encode({ cmd: 'pubrel', messageId: packet.messageId });
    } else {
      const copy = new Packet(packet);
      copy.messageId = packet.messageId;
      // aedes-packet always sets brokerId; without one the entry is the one in flight under the message id.
      entry = packet.brokerId ? entryOf(packet) : ((await this.#redis.hget(this.#keys.queueMessageIds(client.id), String(packet.messageId))) ?? '');
      if (entry === '') return;
      stored = this.#codec.pack({ kind: 'queue', entry }, copy);
    }
    await this.#scripts.update([this.#keys.queuePackets(client.id), this.#keys.queueMessageIds(client.id)], [entry, packet.messageId, stored]);
  }

  async outgoingClearMessageId(client: Client, packet: QueuedPacket | undefined): Promise<Record<string, unknown> | undefined> {
    const messageId = typeof packet === 'object' && packet !== null ? packet.messageId : undefined;
    const entry = typeof packet === 'object' && packet !== null && packet.brokerId ? entryOf(packet) : '';
    if ((messageId === undefined || messageId === null) && entry === '') return undefined;
    const [, queue, packets, messageIds] = this.#keys.session(client.id);
    const cleared = await this.#scripts.clear([queue, packets, messageIds], [messageId ?? '', entry]);
    const [clearedEntry, stored] = cleared ?? [];
    if (!clearedEntry || !stored) return undefined;
    const original = this.#open({ kind: 'queue', entry: clearedEntry.toString() }, stored, client.id);
    if (!original) return undefined;
    if (messageId !== undefined && messageId !== null) original.messageId = messageId;
    return original;
  }

  /** At most maxSessionDelivery queued packets, oldest first, read in one script. */
  outgoingStream(client: Client): Readable {
    const [, queue, packets] = this.#keys.session(client.id);
    const messageIds = this.#keys.queueMessageIds(client.id);
    const scripts = this.#scripts;
    const max = this.#maxSessionDelivery;
    const open = (entry: string, stored: Buffer): Record<string, unknown> | undefined => this.#open({ kind: 'queue', entry }, stored, client.id);
    // Read when first pulled, so a stream destroyed unread leaves no promise to reject unhandled.
    return Readable.from(
      (async function* () {
        const pairs = await scripts.stream([queue, packets], [max]);
        for (let i = 0; i + 1 < pairs.length; i += 2) {
          const entry = pairs[i]?.toString() ?? '';
          const packet = open(entry, pairs[i + 1] ?? Buffer.alloc(0));
          if (packet) yield packet;
          // Unreadable: out of the queue, or every CONNECT would stumble on it again.
          else await scripts.clear([queue, packets, messageIds], ['', entry]);
        }
      })(),
    );
  }

  async incomingStorePacket(client: Client, packet: QueuedPacket): Promise<void> {
    const copy = new Packet(packet);
    copy.messageId = packet.messageId;
    const messageId = String(packet.messageId);
    await this.#redis.hset(this.#keys.incoming(client.id), messageId, this.#codec.pack({ kind: 'incoming', clientId: client.id, messageId }, copy));
  }

  async incomingGetPacket(client: Client, packet: QueuedPacket): Promise<Record<string, unknown>> {
    const messageId = String(packet.messageId);
    const stored = await this.#redis.hgetBuffer(this.#keys.incoming(client.id), messageId);
    if (!stored) throw new Error('no such packet');
    const opened = this.#open({ kind: 'incoming', clientId: client.id, messageId }, stored, client.id);
    if (opened) return opened;
    // aedes answers PUBCOMP without publishing (lib/handlers/pubrel.js): the message is dropped.
    await this.#redis.hdel(this.#keys.incoming(client.id), messageId);
    throw new Error('no such packet');
  }

  async incomingDelPacket(client: Client, packet: QueuedPacket): Promise<void> {
    await this.#redis.hdel(this.#keys.incoming(client.id), String(packet.messageId));
  }

  async cleanIncoming(client: Client): Promise<void> {
    await this.#redis.unlink(this.#keys.incoming(client.id));
  }

  async putWill(client: Client, packet: Record<string, unknown>): Promise<void> {
    const brokerId = this.#broker?.id ?? '';
    packet['clientId'] = client.id;
    packet['brokerId'] = brokerId;
    await this.#scripts.putWill([this.#keys.will(client.id), this.#keys.wills], [encodeURIComponent(client.id), brokerId, this.#codec.pack({ kind: 'will', clientId: client.id }, packet)]);
  }

  async getWill(client: Client): Promise<Record<string, unknown> | null> {
    const stored = await this.#redis.hgetBuffer(this.#keys.will(client.id), 'p');
    return stored ? (this.#open({ kind: 'will', clientId: client.id }, stored, client.id) ?? null) : null;
  }

  /**
   * Deletes the client's will; with `client.brokerId` only if that broker
   * stored it (aedes's will sweep names the broker whose will it published).
   * aedes's CONNECT calls it without a broker id, so a reconnecting client's
   * will left by a broker that died is gone before aedes could publish it
   * (DD-011). Never rejects: aedes's CONNECT chains only `.finally()` onto it
   * (lib/handlers/connect.js storeWill); a will left behind is harmless,
   * stale presence carries an epoch.
   *
   * At CONNECT aedes sets `client.will` and calls delWill then putWill; the
   * will is keyed by the client, so putWill's write replaces the old one in
   * the same step and this round trip is skipped.
   */
  async delWill(client: Client): Promise<Record<string, unknown> | null> {
    if (client.will !== undefined && client.will !== null && client.brokerId === undefined) return null;
    try {
      const stored = await this.#scripts.deleteWill([this.#keys.will(client.id), this.#keys.wills], [encodeURIComponent(client.id), client.brokerId ?? '']);
      return stored ? (this.#open({ kind: 'will', clientId: client.id }, stored, client.id) ?? null) : null;
    } catch (err) {
      this.#logger.warn({ clientId: clip(client.id), err: errorMessage(err) }, 'deleting a will failed');
      return null;
    }
  }

  /** Wills of brokers not in `brokers` (aedes's will sweep), read a batch per round trip. */
  streamWill(brokers: Record<string, unknown> = {}): Readable {
    const { wills, will } = this.#keys;
    const willPrefix = will('');
    const scripts = this.#scripts;
    const open = (clientId: string, stored: Buffer): Record<string, unknown> | undefined => this.#open({ kind: 'will', clientId }, stored, clientId);
    const drop = (encodedId: string): Promise<unknown> => scripts.deleteWill([will(safeDecode(encodedId) ?? ''), wills], [encodedId, '']);
    return Readable.from(
      (async function* () {
        let cursor = '0';
        do {
          const [next, ...pairs] = await scripts.streamWills([wills], [willPrefix, cursor, BATCH]);
          cursor = next?.toString() ?? '0';
          for (let i = 0; i + 1 < pairs.length; i += 2) {
            const encodedId = pairs[i]?.toString() ?? '';
            const clientId = safeDecode(encodedId);
            const decoded = clientId === undefined ? undefined : open(clientId, pairs[i + 1] ?? Buffer.alloc(0));
            // Unreadable: gone, or every sweep would log it again.
            if (!decoded) await drop(encodedId);
            else if (typeof decoded['brokerId'] === 'string' && brokers[decoded['brokerId']] === undefined) yield decoded;
          }
        } while (cursor !== '0');
      })(),
    );
  }

  getClientList(topic: string): Readable {
    return Readable.from(this.#index.clientsOf(topic));
  }

  /** Ids of clients that have a will stored, a page per call (the session sweep's view). */
  async scanWills(cursor: string, count: number): Promise<[next: string, clientIds: string[]]> {
    const [next, ids] = await this.#redis.sscan(this.#keys.wills, cursor, 'COUNT', count);
    return [next, ids.map(safeDecode).filter((id): id is string => id !== undefined)];
  }

  /** Ids of clients with a stored session, a page per call. */
  scanSessions(cursor: string, count: number): Promise<[next: string, clientIds: string[]]> {
    return this.#redis.sscan(this.#keys.clients, cursor, 'COUNT', count);
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) throw new Error('destroyed called twice!');
    this.#destroyed = true;
    await this.#index.stop();
    this.#redis.disconnect();
  }
}

/** The queue entry id of a packet: unique per broker and message. */
function entryOf(packet: QueuedPacket): string {
  if (!packet.brokerId || packet.brokerCounter === undefined) throw new Error('queued packet has no broker id or counter');
  return `${packet.brokerId}:${packet.brokerCounter}`;
}

/** A subscription as stored: what aedes restores from on a clean=false CONNECT, without the client id. */
function storedSub(sub: IndexedSub): Record<string, unknown> {
  const { clientId: _clientId, ...rest } = sub as IndexedSub & { clientId?: unknown };
  return rest;
}

function subsOf(hash: Record<string, Buffer>): IndexedSub[] {
  return Object.values(hash).map((value) => decode<IndexedSub>(value));
}

function safeDecode(id: string): string | undefined {
  try {
    return decodeURIComponent(id);
  } catch {
    return undefined;
  }
}
