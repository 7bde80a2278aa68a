import type { Redis } from 'ioredis';

/**
 * DD-028: every persistence operation is one Lua script, i.e. one round trip,
 * atomic, touching the keys of one client (see keys.ts). Two scripts build
 * keys from data (STREAM_WILLS, and nothing else), which only standalone
 * Redis allows; Outpost runs standalone Redis (docs/operations.md).
 */

/** KEYS: subs, clients. ARGV: client id, then topic/subscription pairs. */
const ADD_SUBSCRIPTIONS = `
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('SADD', KEYS[2], ARGV[1])
return 1
`;

/**
 * KEYS: subs, queue, packets, message ids, clients. ARGV: client id, topics.
 * The session ends with its last subscription: its queue goes too. Returns 1 then.
 */
const REMOVE_SUBSCRIPTIONS = `
redis.call('HDEL', KEYS[1], unpack(ARGV, 2))
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('UNLINK', KEYS[2], KEYS[3], KEYS[4])
redis.call('SREM', KEYS[5], ARGV[1])
return 1
`;

/** KEYS: subs, queue, packets, message ids, clients, incoming (optional). ARGV: client id. Returns the topics removed. */
const CLEAN_SESSION = `
local topics = redis.call('HKEYS', KEYS[1])
redis.call('UNLINK', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
if KEYS[6] then redis.call('UNLINK', KEYS[6]) end
redis.call('SREM', KEYS[5], ARGV[1])
return topics
`;

/**
 * KEYS: (queue, packets) per subscriber. ARGV: entry id, packet, cap, most drops per queue.
 * Keeps at most `cap` entries per queue by dropping the OLDEST (DD-020); a
 * dropped entry's packet goes unless the same entry is queued again further on.
 * Returns how many entries were dropped.
 */
const ENQUEUE = `
local entry, packet, cap, budget = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local dropped = 0
for i = 1, #KEYS, 2 do
  redis.call('HSET', KEYS[i + 1], entry, packet)
  local excess = math.min(redis.call('RPUSH', KEYS[i], entry) - cap, budget)
  for _ = 1, excess do
    local old = redis.call('LPOP', KEYS[i])
    if old and not redis.call('LPOS', KEYS[i], old) then redis.call('HDEL', KEYS[i + 1], old) end
    dropped = dropped + 1
  end
end
return dropped
`;

/**
 * KEYS: packets, message ids. ARGV: entry id ('' = the one in flight under the
 * message id), message id, packet. Replaces a queued entry's packet (a PUBLISH
 * with its message id, or the PUBREL of a QoS 2 flow) and records the message
 * id. An entry no longer queued (dropped, acknowledged) is not recreated: 0.
 */
const UPDATE = `
local entry = ARGV[1]
if entry == '' then
  entry = redis.call('HGET', KEYS[2], ARGV[2])
  if not entry then return 0 end
end
if redis.call('HEXISTS', KEYS[1], entry) == 0 then return 0 end
redis.call('HSET', KEYS[1], entry, ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], entry)
return 1
`;

/**
 * KEYS: queue, packets, message ids. ARGV: message id ('' = none), entry id ('' = none).
 * Acknowledges: drops the entry in flight under the message id (else the
 * given entry) and returns { entry, packet } (a packet is sealed to its
 * entry, DD-047), or nil when nothing is queued.
 */
const CLEAR = `
local entry = false
if ARGV[1] ~= '' then entry = redis.call('HGET', KEYS[3], ARGV[1]) end
if entry then
  redis.call('HDEL', KEYS[3], ARGV[1])
elseif ARGV[2] ~= '' then
  entry = ARGV[2]
else
  return false
end
local packet = redis.call('HGET', KEYS[2], entry)
redis.call('LREM', KEYS[1], 0, entry)
redis.call('HDEL', KEYS[2], entry)
if not packet then return false end
return { entry, packet }
`;

/** KEYS: queue, packets. ARGV: most entries. The oldest queued entries and packets, in pairs; entries whose packet is gone are dropped. */
const STREAM = `
local ids = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local out = {}
for i = 1, #ids do
  local packet = redis.call('HGET', KEYS[2], ids[i])
  if packet then
    out[#out + 1] = ids[i]
    out[#out + 1] = packet
  else
    redis.call('LREM', KEYS[1], 0, ids[i])
  end
end
return out
`;

/** KEYS: will, wills. ARGV: encoded client id, broker id, packet. */
const PUT_WILL = `
redis.call('HSET', KEYS[1], 'b', ARGV[2], 'p', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
`;

/**
 * KEYS: will, wills. ARGV: encoded client id, broker id ('' = whichever stored it).
 * Deletes the client's will if it was stored by that broker; returns it.
 */
const DELETE_WILL = `
local will = redis.call('HMGET', KEYS[1], 'b', 'p')
if not will[2] then
  redis.call('SREM', KEYS[2], ARGV[1])
  return false
end
if ARGV[2] ~= '' and will[1] ~= ARGV[2] then return false end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return will[2]
`;

/** KEYS: wills. ARGV: will key prefix, cursor, count. Returns the next cursor, then (encoded client id, will packet) pairs. */
const STREAM_WILLS = `
local page = redis.call('SSCAN', KEYS[1], ARGV[2], 'COUNT', tonumber(ARGV[3]))
local out = { page[1] }
for _, id in ipairs(page[2]) do
  local packet = redis.call('HGET', ARGV[1] .. id, 'p')
  if packet then
    out[#out + 1] = id
    out[#out + 1] = packet
  else
    redis.call('SREM', KEYS[1], id)
  end
end
return out
`;

type Arg = string | number | Buffer;
type Script<R> = (keys: readonly string[], args: readonly Arg[]) => Promise<R>;

export interface PersistenceScripts {
  addSubscriptions: Script<unknown>;
  removeSubscriptions: Script<number>;
  cleanSession: Script<string[]>;
  enqueue: Script<number>;
  update: Script<number>;
  clear: Script<[entry: Buffer, packet: Buffer] | null>;
  stream: Script<Buffer[]>;
  putWill: Script<unknown>;
  deleteWill: Script<Buffer | null>;
  streamWills: Script<Buffer[]>;
}

/**
 * Defines the scripts on the connection (ioredis sends EVALSHA and falls back
 * to EVAL once after a Redis restart flushed its script cache).
 */
export function defineScripts(redis: Redis): PersistenceScripts {
  const define = <R>(name: string, lua: string, buffers: boolean): Script<R> => {
    redis.defineCommand(name, { lua });
    const fn: unknown = Reflect.get(redis, buffers ? `${name}Buffer` : name);
    if (typeof fn !== 'function') throw new Error(`ioredis did not define ${name}`);
    return (keys, args) => (fn as (...a: Arg[]) => Promise<R>).call(redis, keys.length, ...keys, ...args);
  };
  return {
    addSubscriptions: define('outpostPSubsAdd', ADD_SUBSCRIPTIONS, false),
    removeSubscriptions: define('outpostPSubsRemove', REMOVE_SUBSCRIPTIONS, false),
    cleanSession: define('outpostPSessionClean', CLEAN_SESSION, false),
    enqueue: define('outpostPQueueAdd', ENQUEUE, false),
    update: define('outpostPQueueUpdate', UPDATE, false),
    clear: define('outpostPQueueClear', CLEAR, true),
    stream: define('outpostPQueueStream', STREAM, true),
    putWill: define('outpostPWillPut', PUT_WILL, false),
    deleteWill: define('outpostPWillDelete', DELETE_WILL, true),
    streamWills: define('outpostPWillStream', STREAM_WILLS, true),
  };
}
