import type { Redis } from 'ioredis';
import type { Keys } from '../registry/keys.js';

/**
 * The desired documents' store and confirm steps, one script call per chunk
 * of devices (DD-021, DD-033). Each device of a chunk is checked on its own
 * inside the script, exactly as a script per device would: a chunk is
 * atomic as a whole, but one refused device refuses only itself.
 */

/** Most devices per script call: bounds how long one call holds Redis, and Lua's unpack() stack. */
export const MAX_CHUNK = 1000;

/**
 * Compare, version and store each device's document. Refuses a device that
 * is gone or being decommissioned (unless this is the decommission's own
 * wipe), and a composition read from an older registry generation than the
 * stored one. Equal content keeps its version. Stored documents join the
 * unpublished set until their PUBACK is recorded.
 *
 * KEYS: unpublished set, then per device: desired record, version counter, device record, device tombstone.
 * ARGV: issuedAt, generation, mode ('' | 'wipe'), then per device: content hash, document with "version":1 as placeholder, device id.
 * Returns per device { version, document } when stored, { version } when unchanged, { -1 } stale, { -2 } gone.
 */
const STORE_MANY = `
local gen = tonumber(ARGV[2])
local wipe = ARGV[3] == 'wipe'
local out, added = {}, {}
for i = 1, (#KEYS - 1) / 4 do
  local k, a = 1 + (i - 1) * 4, 3 + (i - 1) * 3
  if redis.call('EXISTS', KEYS[k + 3]) == 0 or (not wipe and redis.call('EXISTS', KEYS[k + 4]) == 1) then
    out[i] = { -2 }
  else
    local rec = redis.call('HMGET', KEYS[k + 1], 'hash', 'version', 'gen')
    local stored = tonumber(rec[3] or '0')
    if stored > gen then
      out[i] = { -1 }
    elseif rec[1] == ARGV[a + 1] then
      if gen > stored then redis.call('HSET', KEYS[k + 1], 'gen', ARGV[2]) end
      out[i] = { tonumber(rec[2] or '0') }
    else
      local v = redis.call('INCR', KEYS[k + 2])
      local doc = string.gsub(ARGV[a + 2], '"version":1,', '"version":' .. v .. ',', 1)
      redis.call('HSET', KEYS[k + 1], 'doc', doc, 'hash', ARGV[a + 1], 'version', v, 'publishedAt', ARGV[1], 'gen', ARGV[2])
      added[#added + 1] = ARGV[a + 3]
      out[i] = { v, doc }
    end
  end
end
for j = 1, #added, 500 do
  redis.call('SADD', KEYS[1], unpack(added, j, math.min(j + 499, #added)))
end
return out`;

/**
 * The broker acknowledged these versions: record each (and, signed, when
 * that copy expires), unless a newer one was stored meanwhile (that one is
 * still unpublished).
 * KEYS: unpublished set, expiries, then per device its desired record.
 * ARGV: per device: version, device id, expiry ms or ''.
 */
const CONFIRM_MANY = `
local done, expiring = {}, {}
for i = 1, #KEYS - 2 do
  local a = (i - 1) * 3
  if tonumber(redis.call('HGET', KEYS[2 + i], 'version') or '0') == tonumber(ARGV[a + 1]) then
    redis.call('HSET', KEYS[2 + i], 'published', ARGV[a + 1])
    done[#done + 1] = ARGV[a + 2]
    if ARGV[a + 3] ~= '' then
      expiring[#expiring + 1] = ARGV[a + 3]
      expiring[#expiring + 1] = ARGV[a + 2]
    end
  end
end
for j = 1, #done, 500 do
  redis.call('SREM', KEYS[1], unpack(done, j, math.min(j + 499, #done)))
end
for j = 1, #expiring, 1000 do
  redis.call('ZADD', KEYS[2], unpack(expiring, j, math.min(j + 999, #expiring)))
end
return #done`;

export interface StoreItem {
  deviceId: string;
  hash: string;
  /** The document with "version":1 where the assigned version goes. */
  template: string;
}

export type StoreResult = { kind: 'stored'; deviceId: string; version: number; payload: string } | { kind: 'unchanged' | 'stale' | 'gone'; deviceId: string };

/** Stores a chunk: one script call per MAX_CHUNK devices. */
export async function storeChunk(redis: Redis, keys: Keys, items: readonly StoreItem[], generation: number, issuedAt: string, mode: '' | 'wipe'): Promise<StoreResult[]> {
  const out: StoreResult[] = [];
  for (let i = 0; i < items.length; i += MAX_CHUNK) out.push(...(await storeCall(redis, keys, items.slice(i, i + MAX_CHUNK), generation, issuedAt, mode)));
  return out;
}

async function storeCall(redis: Redis, keys: Keys, items: readonly StoreItem[], generation: number, issuedAt: string, mode: '' | 'wipe'): Promise<StoreResult[]> {
  if (items.length === 0) return [];
  const keyArgs: string[] = [keys.unpublished()];
  const argv: string[] = [issuedAt, String(generation), mode];
  for (const c of items) {
    keyArgs.push(keys.desired(c.deviceId), keys.version(c.deviceId), keys.device(c.deviceId), keys.deviceTombstone(c.deviceId));
    argv.push(c.hash, c.template, c.deviceId);
  }
  const rows = (await redis.eval(STORE_MANY, keyArgs.length, ...keyArgs, ...argv)) as [number, string?][];
  return items.map((c, i) => {
    const row = rows[i];
    if (!row) throw new Error(`store script: no reply for ${c.deviceId}`);
    const [version, payload] = row;
    if (version === -2) return { kind: 'gone', deviceId: c.deviceId };
    if (version === -1) return { kind: 'stale', deviceId: c.deviceId };
    if (payload === undefined) return { kind: 'unchanged', deviceId: c.deviceId };
    return { kind: 'stored', deviceId: c.deviceId, version, payload };
  });
}

export interface ConfirmItem {
  deviceId: string;
  version: number;
  expiresAtMs: number | null;
}

/** Records PUBACKed versions, one script call per MAX_CHUNK; returns how many were still the stored version. */
export async function confirmChunk(redis: Redis, keys: Keys, items: readonly ConfirmItem[]): Promise<number> {
  let n = 0;
  for (let i = 0; i < items.length; i += MAX_CHUNK) n += await confirmCall(redis, keys, items.slice(i, i + MAX_CHUNK));
  return n;
}

async function confirmCall(redis: Redis, keys: Keys, items: readonly ConfirmItem[]): Promise<number> {
  if (items.length === 0) return 0;
  const keyArgs: string[] = [keys.unpublished(), keys.expiries()];
  const argv: string[] = [];
  for (const a of items) {
    keyArgs.push(keys.desired(a.deviceId));
    argv.push(String(a.version), a.deviceId, a.expiresAtMs === null ? '' : String(a.expiresAtMs));
  }
  return (await redis.eval(CONFIRM_MANY, keyArgs.length, ...keyArgs, ...argv)) as number;
}
