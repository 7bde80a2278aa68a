import type { Redis } from 'ioredis';
import { DeviceEvent } from '../../shared/schemas/event.js';
import { Presence } from '../../shared/schemas/presence.js';
import { ReportedState } from '../../shared/schemas/reported-state.js';
import { Telemetry, type TelemetryDelta } from '../../shared/schemas/telemetry.js';
import { applyTelemetryDelta } from '../../shared/telemetry-delta.js';
import type { Keys } from '../registry/keys.js';

export const EVENTS_KEPT = 200;

/**
 * Keep the newer report only: by seen version, then by reportedAt. Also lift
 * the device's version counter to what the device has seen, so a controller
 * that lost its counter never publishes a version the device would ignore.
 * KEYS: status, version counter. ARGV: json, seenVersion, reportedAtMs, nowMs.
 */
const STORE_REPORTED = `
local cur = redis.call('HMGET', KEYS[1], 'seenVersion', 'reportedAtMs')
local seen = tonumber(ARGV[2])
local at = tonumber(ARGV[3])
if cur[1] and cur[2] then
  local cs = tonumber(cur[1]); local ca = tonumber(cur[2])
  if seen < cs or (seen == cs and at < ca) then return 0 end
end
redis.call('HSET', KEYS[1], 'reported', ARGV[1], 'seenVersion', ARGV[2], 'reportedAtMs', ARGV[3], 'lastSeenMs', ARGV[4])
local v = tonumber(redis.call('GET', KEYS[2]) or '0')
if seen > v then redis.call('SET', KEYS[2], ARGV[2]) end
return 1`;

/**
 * Presence with a lower epoch than the stored one is stale (e.g. the will of a
 * taken-over connection). At equal epochs, offline wins: it is that
 * connection's will, which can only come after its online message.
 * KEYS: status. ARGV: json, epoch, status, nowMs.
 */
const STORE_PRESENCE = `
local cur = redis.call('HMGET', KEYS[1], 'epoch', 'online')
local epoch = tonumber(ARGV[2])
if cur[1] then
  local ce = tonumber(cur[1])
  if epoch < ce then return 0 end
  if epoch == ce and ARGV[3] == 'online' and cur[2] == '0' then return 0 end
end
local online = '0'
if ARGV[3] == 'online' then
  online = '1'
  -- DD-062: when this connection was first seen online; a repeated online presence (DD-061) keeps it.
  if not cur[1] or epoch > tonumber(cur[1]) or cur[2] ~= '1' then redis.call('HSET', KEYS[1], 'onlineSinceMs', ARGV[4]) end
end
redis.call('HSET', KEYS[1], 'presence', ARGV[1], 'epoch', ARGV[2], 'online', online, 'lastSeenMs', ARGV[4])
return 1`;

/** Append an event unless its id was already stored (QoS 1 is at-least-once). KEYS: events list, seen-ids set. */
const STORE_EVENT = `
if redis.call('SADD', KEYS[2], ARGV[2]) == 0 then return 0 end
redis.call('EXPIRE', KEYS[2], 86400)
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[3]) - 1)
if redis.call('SCARD', KEYS[2]) > tonumber(ARGV[3]) * 4 then redis.call('DEL', KEYS[2]) end
return 1`;

/**
 * A full telemetry sample: the latest unless a newer one is stored (QoS 0
 * samples may still overtake each other), and the base of later deltas
 * unless a newer full sample is (DD-038). KEYS: status. ARGV: json, atMs, nowMs.
 */
const STORE_TELEMETRY = `
local cur = redis.call('HMGET', KEYS[1], 'telemetryAtMs', 'telemetryBaseAtMs')
local at = tonumber(ARGV[2])
local stored = 0
if at >= tonumber(cur[2] or '-1') then
  redis.call('HSET', KEYS[1], 'telemetryBase', ARGV[1], 'telemetryBaseAtMs', ARGV[2])
  stored = 1
end
if at >= tonumber(cur[1] or '-1') then
  redis.call('HSET', KEYS[1], 'telemetry', ARGV[1], 'telemetryAtMs', ARGV[2])
  stored = 1
end
if stored == 1 then redis.call('HSET', KEYS[1], 'lastSeenMs', ARGV[3]) end
return stored`;

/**
 * A delta merged onto its base (DD-038), committed only if the stored base is
 * still the one it was merged onto (the merge runs in TypeScript: read,
 * merge, commit with the base read as the expectation) and nothing newer is
 * the latest. KEYS: status. ARGV: base json read, merged json, atMs, nowMs.
 * Returns 1 stored, 0 stale, -1 the base changed.
 */
const STORE_TELEMETRY_DELTA = `
local cur = redis.call('HMGET', KEYS[1], 'telemetryBase', 'telemetryAtMs')
if cur[1] ~= ARGV[1] then return -1 end
if tonumber(ARGV[3]) < tonumber(cur[2] or '-1') then return 0 end
redis.call('HSET', KEYS[1], 'telemetry', ARGV[2], 'telemetryAtMs', ARGV[3], 'lastSeenMs', ARGV[4])
return 1`;

/** What became of a telemetry delta: merged and stored, older than the latest, or no stored full sample is its base. */
export type DeltaOutcome = 'stored' | 'stale' | 'unknown-base';

export interface DeviceStatus {
  reported: ReportedState | null;
  presence: Presence | null;
  online: boolean;
  lastSeen: string | null;
}

/** Latest per-device state as the devices report it. */
export class StatusStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  /** true when stored, false when stale. */
  async storeReported(r: ReportedState, nowMs: number): Promise<boolean> {
    const res = await this.redis.eval(
      STORE_REPORTED,
      2,
      this.keys.status(r.deviceId),
      this.keys.version(r.deviceId),
      JSON.stringify(r),
      String(r.desired.seenVersion ?? 0),
      String(Date.parse(r.reportedAt)),
      String(nowMs),
    );
    return res === 1;
  }

  async storePresence(p: Presence, nowMs: number): Promise<boolean> {
    const res = await this.redis.eval(STORE_PRESENCE, 1, this.keys.status(p.deviceId), JSON.stringify(p), String(p.epoch), p.status, String(nowMs));
    return res === 1;
  }

  async storeEvent(e: DeviceEvent, nowMs: number): Promise<boolean> {
    const res = await this.redis.eval(STORE_EVENT, 2, this.keys.events(e.deviceId), this.keys.eventIds(e.deviceId), JSON.stringify(e), e.id, String(EVENTS_KEPT));
    if (res === 1) await this.redis.hset(this.keys.status(e.deviceId), 'lastSeenMs', String(nowMs));
    return res === 1;
  }

  async storeTelemetry(t: Telemetry, nowMs: number): Promise<boolean> {
    const res = await this.redis.eval(STORE_TELEMETRY, 1, this.keys.status(t.deviceId), JSON.stringify(t), String(Date.parse(t.at)), String(nowMs));
    return res === 1;
  }

  /**
   * DD-038: the delta merged onto the stored base (the last full sample, not
   * the latest) becomes the latest. A base replaced between the read and the
   * commit is read again: the delta then names it or is dropped.
   */
  async storeTelemetryDelta(d: TelemetryDelta, nowMs: number): Promise<DeltaOutcome> {
    const key = this.keys.status(d.deviceId);
    for (let attempt = 0; attempt < 3; attempt++) {
      const raw = await this.redis.hget(key, 'telemetryBase');
      if (raw === null) return 'unknown-base';
      const merged = applyTelemetryDelta(Telemetry.parse(JSON.parse(raw)), d);
      if (merged === null) return 'unknown-base';
      const res = await this.redis.eval(STORE_TELEMETRY_DELTA, 1, key, raw, JSON.stringify(merged), String(Date.parse(d.at)), String(nowMs));
      if (res === 1) return 'stored';
      if (res === 0) return 'stale';
    }
    return 'unknown-base';
  }

  /** The latest telemetry sample of a device (a full one, deltas merged in), null before the first. */
  async telemetry(deviceId: string): Promise<Telemetry | null> {
    const raw = await this.redis.hget(this.keys.status(deviceId), 'telemetry');
    return raw ? Telemetry.parse(JSON.parse(raw)) : null;
  }

  async get(deviceId: string): Promise<DeviceStatus> {
    return (await this.many([deviceId]))[0] as DeviceStatus;
  }

  async many(deviceIds: readonly string[]): Promise<DeviceStatus[]> {
    const pipeline = this.redis.pipeline();
    for (const id of deviceIds) pipeline.hmget(this.keys.status(id), 'reported', 'presence', 'online', 'lastSeenMs');
    const rows = (await pipeline.exec()) ?? [];
    return rows.map(([err, value]) => {
      if (err) throw err;
      const [reported, presence, online, lastSeenMs] = value as (string | null)[];
      return {
        reported: reported ? ReportedState.parse(JSON.parse(reported)) : null,
        presence: presence ? Presence.parse(JSON.parse(presence)) : null,
        online: online === '1',
        lastSeen: lastSeenMs ? new Date(Number(lastSeenMs)).toISOString() : null,
      };
    });
  }

  async events(deviceId: string, limit: number): Promise<DeviceEvent[]> {
    const raw = await this.redis.lrange(this.keys.events(deviceId), 0, Math.max(0, limit - 1));
    return raw.map((r) => DeviceEvent.parse(JSON.parse(r)));
  }

  async remove(deviceId: string): Promise<void> {
    await this.redis.del(this.keys.status(deviceId), this.keys.events(deviceId), this.keys.eventIds(deviceId));
  }

  async count(metric: string, by = 1): Promise<void> {
    await this.redis.hincrby(this.keys.metrics(), metric, by);
  }

  async metrics(): Promise<Record<string, number>> {
    const raw = await this.redis.hgetall(this.keys.metrics());
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
  }
}
