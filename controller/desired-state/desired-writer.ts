import type { Redis } from 'ioredis';
import type { Logger } from '../../shared/logger.js';
import { PROTOCOL_VERSION } from '../../shared/schemas/common.js';
import { DesiredState } from '../../shared/schemas/desired-state.js';
import type { Topics } from '../../shared/topics.js';
import { canonicalJson, sha256Hex } from '../../shared/canonical-json.js';
import { errorMessage } from '../../shared/errors.js';
import { NO_FAILPOINTS, type Failpoints } from '../../shared/failpoints.js';
import type { ServicePublisher } from '../mqtt/service-publisher.js';
import type { Device } from '../model/device.js';
import type { Release } from '../model/release.js';
import type { Keys } from '../registry/keys.js';
import type { DocumentSigner } from '../signing/document-signer.js';
import { composeDesired, type PreparedDeployment } from './compose-desired.js';

/** Stands for the version in a document template until Redis assigns it. */
const VERSION_PLACEHOLDER = 1;

/**
 * Compare, version and store one device's document in one atomic step
 * (DD-017, DD-021). Refuses a device that is gone or being decommissioned
 * (unless this is the decommission's own wipe), and a composition read from
 * an older registry generation than the stored one: two controllers can
 * never store a stale document over a newer one. Equal content keeps its
 * version. A stored document joins the unpublished set until its PUBACK.
 *
 * KEYS: desired record, version counter, device record, device tombstone, unpublished set.
 * ARGV: content hash, document with "version":1 as placeholder, issuedAt, generation, device id, mode ('' | 'wipe').
 * Returns { version, document } when stored, { version } when unchanged, { -1 } stale, { -2 } gone.
 */
const STORE = `
if redis.call('EXISTS', KEYS[3]) == 0 then return { -2 } end
if ARGV[6] ~= 'wipe' and redis.call('EXISTS', KEYS[4]) == 1 then return { -2 } end
local rec = redis.call('HMGET', KEYS[1], 'hash', 'version', 'gen')
local stored = tonumber(rec[3] or '0')
local gen = tonumber(ARGV[4])
if stored > gen then return { -1 } end
if rec[1] == ARGV[1] then
  if gen > stored then redis.call('HSET', KEYS[1], 'gen', ARGV[4]) end
  return { tonumber(rec[2] or '0') }
end
local v = redis.call('INCR', KEYS[2])
local doc = string.gsub(ARGV[2], '"version":1,', '"version":' .. v .. ',', 1)
redis.call('HSET', KEYS[1], 'doc', doc, 'hash', ARGV[1], 'version', v, 'publishedAt', ARGV[3], 'gen', ARGV[4])
redis.call('SADD', KEYS[5], ARGV[5])
return { v, doc }`;

/**
 * The broker acknowledged version ARGV[1]: record it (and, signed, when that
 * copy expires), unless a newer one was stored meanwhile (that one is still
 * unpublished).
 * KEYS: desired record, unpublished set, expiries. ARGV: version, device id, expiry ms or ''.
 */
const CONFIRM = `
if tonumber(redis.call('HGET', KEYS[1], 'version') or '0') ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'published', ARGV[1])
redis.call('SREM', KEYS[2], ARGV[2])
if ARGV[3] ~= '' then redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2]) end
return 1`;

/** Hash of a document with no workloads: a device that never had any needs no document. */
export const EMPTY_CONTENT_HASH = sha256Hex(canonicalJson({ workloads: {}, provenance: {} }));

export interface WriteContext {
  /** Registry generation read before anything the composition is made of. */
  generation: number;
  deployments: readonly PreparedDeployment[];
  releases: ReadonlyMap<string, Release>;
  /** False once the publish lease was lost: stop before publishing anything more. */
  stillHeld: () => boolean;
}

export interface WriteOutcome {
  published: { deviceId: string; version: number }[];
  unchanged: number;
  /** Stored but not acknowledged by the broker: the drain retries them. */
  pending: string[];
  /** A newer composition (another controller's) was already stored. */
  superseded: number;
  problems: Record<string, string[]>;
}

export interface DesiredWriterDeps {
  redis: Redis;
  keys: Keys;
  topics: Topics;
  mqtt: ServicePublisher;
  logger: Logger;
  now: () => number;
  failpoints?: Failpoints;
  /** Signs each document as it is published (DD-026); absent: unsigned documents. */
  signer?: Pick<DocumentSigner, 'sign'>;
}

/**
 * Composes, versions, stores and publishes desired documents of one batch
 * of devices, and republishes stored documents the broker has not
 * acknowledged. Runs only under the publish lease (intent-drain.ts), which
 * keeps the versions of a device in order on the wire.
 */
export class DesiredWriter {
  private readonly failpoints: Failpoints;

  constructor(private readonly deps: DesiredWriterDeps) {
    this.failpoints = deps.failpoints ?? NO_FAILPOINTS;
  }

  async write(batch: readonly Device[], ctx: WriteContext, out: WriteOutcome): Promise<void> {
    const { deps } = this;
    const heads = await this.heads(batch.map((d) => d.id));
    const issuedAt = new Date(deps.now()).toISOString();
    const changed: { device: Device; hash: string; template: string }[] = [];
    const republish: string[] = [];
    for (const device of batch) {
      const composed = composeDesired(device, ctx.deployments, ctx.releases);
      if (composed.problems.length) out.problems[device.id] = composed.problems;
      const head = heads.get(device.id);
      if (composed.contentHash === (head?.hash ?? EMPTY_CONTENT_HASH)) {
        out.unchanged++;
        if (head && head.version !== head.published) republish.push(device.id);
        continue;
      }
      const template = JSON.stringify(
        DesiredState.parse({
          protocol: PROTOCOL_VERSION,
          deviceId: device.id,
          version: VERSION_PLACEHOLDER,
          issuedAt,
          workloads: composed.workloads,
          provenance: composed.provenance,
          signature: null,
        }),
      );
      changed.push({ device, hash: composed.contentHash, template });
    }

    const docs: { deviceId: string; version: number; payload: string }[] = [];
    if (changed.length > 0) {
      const stored = await this.store(changed.map((c) => ({ deviceId: c.device.id, hash: c.hash, template: c.template })), ctx.generation, issuedAt, '');
      for (const s of stored) {
        if (s.kind === 'stored') docs.push(s);
        else if (s.kind === 'unchanged') out.unchanged++;
        else if (s.kind === 'stale') out.superseded++;
      }
    }
    if (docs.length > 0) await this.failpoints.hit('publish:after-store');
    docs.push(...(await this.storedDocs(republish)));
    await this.publish(docs, ctx, out);
  }

  /** Stores one document regardless of the tombstone: the decommission's wipe. */
  async storeWipe(deviceId: string, generation: number): Promise<{ version: number; payload: string } | null> {
    const issuedAt = new Date(this.deps.now()).toISOString();
    const template = JSON.stringify(
      DesiredState.parse({ protocol: PROTOCOL_VERSION, deviceId, version: VERSION_PLACEHOLDER, issuedAt, workloads: {}, provenance: {}, signature: null }),
    );
    // A hash no composition can have: the wipe always gets a version of its own.
    const [result] = await this.store([{ deviceId, hash: `wipe:${EMPTY_CONTENT_HASH}`, template }], generation, issuedAt, 'wipe');
    return result?.kind === 'stored' ? { version: result.version, payload: result.payload } : null;
  }

  /** Publishes stored documents and records the acknowledged ones. */
  async publish(docs: readonly { deviceId: string; version: number; payload: string }[], ctx: Pick<WriteContext, 'stillHeld'>, out: WriteOutcome): Promise<void> {
    const { deps } = this;
    if (docs.length === 0) return;
    if (!ctx.stillHeld()) {
      out.pending.push(...docs.map((d) => d.deviceId));
      return;
    }
    const signed = await Promise.all(docs.map(async (d) => (deps.signer ? { ...d, ...(await deps.signer.sign(d.payload)) } : { ...d, expiresAtMs: null })));
    const outcomes = await Promise.allSettled(signed.map((d) => deps.mqtt.publish(deps.topics.desired(d.deviceId), d.payload, { retain: true, qos: 1 })));
    if (outcomes.some((o) => o.status === 'fulfilled')) await this.failpoints.hit('publish:after-publish');
    const acked: { deviceId: string; version: number; expiresAtMs: number | null }[] = [];
    outcomes.forEach((o, i) => {
      const d = signed[i];
      if (!d) return;
      if (o.status === 'fulfilled') acked.push({ deviceId: d.deviceId, version: d.version, expiresAtMs: d.expiresAtMs });
      else {
        out.pending.push(d.deviceId);
        deps.logger.warn({ deviceId: d.deviceId, version: d.version, err: errorMessage(o.reason) }, 'desired state stored, not yet published; will retry');
      }
    });
    if (acked.length === 0) return;
    const pipeline = deps.redis.pipeline();
    for (const a of acked) {
      pipeline.eval(CONFIRM, 3, deps.keys.desired(a.deviceId), deps.keys.unpublished(), deps.keys.expiries(), String(a.version), a.deviceId, a.expiresAtMs === null ? '' : String(a.expiresAtMs));
    }
    const rows = (await pipeline.exec()) ?? [];
    rows.forEach(([err], i) => {
      if (err) throw err;
      const a = acked[i];
      if (a) out.published.push({ deviceId: a.deviceId, version: a.version });
    });
  }

  /** Stored documents of devices whose last version the broker has not acknowledged. */
  async storedDocs(ids: readonly string[]): Promise<{ deviceId: string; version: number; payload: string }[]> {
    if (ids.length === 0) return [];
    const pipeline = this.deps.redis.pipeline();
    for (const id of ids) pipeline.hmget(this.deps.keys.desired(id), 'version', 'doc');
    const rows = (await pipeline.exec()) ?? [];
    const out: { deviceId: string; version: number; payload: string }[] = [];
    rows.forEach(([err, value], i) => {
      if (err) throw err;
      const id = ids[i];
      const [version, doc] = (value ?? [null, null]) as [string | null, string | null];
      if (id && version && doc) out.push({ deviceId: id, version: Number(version), payload: doc });
    });
    return out;
  }

  private async heads(ids: readonly string[]): Promise<Map<string, { hash: string; version: number; published: number }>> {
    const pipeline = this.deps.redis.pipeline();
    for (const id of ids) pipeline.hmget(this.deps.keys.desired(id), 'hash', 'version', 'published');
    const rows = (await pipeline.exec()) ?? [];
    const out = new Map<string, { hash: string; version: number; published: number }>();
    rows.forEach(([err, value], i) => {
      if (err) throw err;
      const id = ids[i];
      const [hash, version, published] = (value ?? []) as (string | null)[];
      if (id && hash && version) out.set(id, { hash, version: Number(version), published: Number(published ?? 0) });
    });
    return out;
  }

  private async store(
    items: readonly { deviceId: string; hash: string; template: string }[],
    generation: number,
    issuedAt: string,
    mode: '' | 'wipe',
  ): Promise<({ kind: 'stored'; deviceId: string; version: number; payload: string } | { kind: 'unchanged' | 'stale' | 'gone'; deviceId: string })[]> {
    const { keys } = this.deps;
    const pipeline = this.deps.redis.pipeline();
    for (const c of items) {
      pipeline.eval(
        STORE,
        5,
        keys.desired(c.deviceId),
        keys.version(c.deviceId),
        keys.device(c.deviceId),
        keys.deviceTombstone(c.deviceId),
        keys.unpublished(),
        c.hash,
        c.template,
        issuedAt,
        String(generation),
        c.deviceId,
        mode,
      );
    }
    const rows = (await pipeline.exec()) ?? [];
    return items.map((c, i) => {
      const [err, value] = rows[i] ?? [new Error('no reply'), null];
      if (err) throw err;
      const [version, payload] = value as [number, string | undefined];
      if (version === -2) return { kind: 'gone', deviceId: c.deviceId };
      if (version === -1) return { kind: 'stale', deviceId: c.deviceId };
      if (payload === undefined) return { kind: 'unchanged', deviceId: c.deviceId };
      return { kind: 'stored', deviceId: c.deviceId, version, payload };
    });
  }
}
