import type { Redis } from 'ioredis';
import type { Logger } from '../../shared/logger.js';
import { PROTOCOL_VERSION } from '../../shared/schemas/common.js';
import { DesiredState } from '../../shared/schemas/desired-state.js';
import type { Topics } from '../../shared/topics.js';
import { canonicalJson, sha256Hex } from '../../shared/canonical-json.js';
import { errorMessage } from '../../shared/errors.js';
import { NO_FAILPOINTS, type Failpoints } from '../../shared/failpoints.js';
import type { PublishMetrics } from '../metrics/controller-counters.js';
import type { ServicePublisher } from '../mqtt/service-publisher.js';
import type { Device } from '../model/device.js';
import type { Release } from '../model/release.js';
import type { Keys } from '../registry/keys.js';
import type { DocumentSigner } from '../signing/document-signer.js';
import type { ComposedDesired, PreparedDeployment } from './compose-desired.js';
import { CompositionCache } from './composition-cache.js';
import { confirmChunk, storeChunk, type StoreItem, type StoreResult } from './desired-scripts.js';
import { EMPTY_REGISTRY_AUTH, type RegistryAuthSnapshot } from '../registry-auth/registry-credential-store.js';
import { planRegistryAuth, type RegistryAuthPlan } from './registry-auth.js';

/** Stands for the version in a document template until Redis assigns it (desired-scripts.ts). */
const VERSION_PLACEHOLDER = 1;

/** Hash of a document with no workloads: a device that never had any needs no document. */
export const EMPTY_CONTENT_HASH = sha256Hex(canonicalJson({ workloads: {}, provenance: {} }));

export interface WriteContext {
  /** Registry generation read before anything the composition is made of. */
  generation: number;
  deployments: readonly PreparedDeployment[];
  releases: ReadonlyMap<string, Release>;
  /** Shared by every chunk of one drain (DD-033); absent: one per write. Must be built from the same deployments and releases. */
  compositions?: CompositionCache;
  /** False once the publish lease was lost: stop before publishing anything more. */
  stillHeld: () => boolean;
  /** Stored registry credentials, read with the rest of the composition's inputs (DD-041); absent: none. */
  registryAuth?: RegistryAuthSnapshot;
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
  signer?: Pick<DocumentSigner, 'signMany'>;
  /** Per-process counters for /metrics (DD-039); absent: none. */
  metrics?: PublishMetrics;
  /** Opens the sealed registry passwords of a stored document just before it is signed and sent (DD-041). */
  revealSecrets?: (payload: string) => string;
  /** The broker acknowledged these devices' documents (DD-062's delivery check); must not throw. */
  onAcknowledged?: (deviceIds: readonly string[]) => Promise<void>;
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

  /**
   * One chunk (DD-033): one pipeline reads the heads, composition reuses
   * what the drain already composed for equal inputs, one script stores the
   * chunk, the chunk is published concurrently, one script confirms it.
   */
  async write(batch: readonly Device[], ctx: WriteContext, out: WriteOutcome): Promise<void> {
    const { deps } = this;
    const compositions = ctx.compositions ?? new CompositionCache(ctx.deployments, ctx.releases);
    const heads = await this.heads(batch.map((d) => d.id));
    const issuedAt = new Date(deps.now()).toISOString();
    // Per composition, the document validated once; each device's copy differs only in its (validated) id.
    const validated = new Map<ComposedDesired, DesiredState>();
    const auths = new Map<ComposedDesired, RegistryAuthPlan>();
    const changed: StoreItem[] = [];
    const republish: string[] = [];
    for (const device of batch) {
      const composed = compositions.compose(device);
      let auth = auths.get(composed);
      if (!auth) {
        auth = planRegistryAuth(composed.workloads, composed.contentHash, ctx.registryAuth ?? EMPTY_REGISTRY_AUTH);
        auths.set(composed, auth);
      }
      const problems = auth.problems.length ? [...composed.problems, ...auth.problems] : composed.problems;
      if (problems.length) out.problems[device.id] = problems;
      const head = heads.get(device.id);
      if (auth.contentHash === (head?.hash ?? EMPTY_CONTENT_HASH)) {
        out.unchanged++;
        if (head && head.version !== head.published) republish.push(device.id);
        continue;
      }
      let doc = validated.get(composed);
      if (!doc) {
        doc = DesiredState.parse({
          protocol: PROTOCOL_VERSION,
          deviceId: device.id,
          version: VERSION_PLACEHOLDER,
          issuedAt,
          workloads: composed.workloads,
          provenance: composed.provenance,
          signature: null,
          ...composed.policy,
          // Sealed passwords: the stored copy never holds them in clear (DD-041).
          ...(auth.registryAuth ? { registryAuth: auth.registryAuth } : {}),
        });
        validated.set(composed, doc);
      }
      // Spreading keeps the member order, so "version":1 stays where the store script expects it.
      changed.push({ deviceId: device.id, hash: auth.contentHash, template: JSON.stringify({ ...doc, deviceId: device.id }) });
    }

    const docs: { deviceId: string; version: number; payload: string }[] = [];
    if (changed.length > 0) {
      for (const s of await this.store(changed, ctx.generation, issuedAt, '')) {
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
    const ready = this.revealed(docs, out);
    if (ready.length === 0) return;
    const signatures = deps.signer ? await deps.signer.signMany(ready.map((d) => d.payload)) : null;
    const signed = ready.map((d, i) => {
      const s = signatures?.[i];
      return s ? { ...d, ...s } : { ...d, expiresAtMs: null };
    });
    // Signing a chunk takes a while: the lease may have gone meanwhile (DD-021, one publisher at a time).
    if (!ctx.stillHeld()) {
      out.pending.push(...ready.map((d) => d.deviceId));
      return;
    }
    const outcomes = await Promise.allSettled(signed.map((d) => deps.mqtt.publish(deps.topics.desired(d.deviceId), d.payload, { retain: true, qos: 1 })));
    if (outcomes.some((o) => o.status === 'fulfilled')) await this.failpoints.hit('publish:after-publish');
    const acked: { deviceId: string; version: number; expiresAtMs: number | null }[] = [];
    const failed = outcomes.filter((o) => o.status === 'rejected').length;
    deps.metrics?.published(outcomes.length - failed);
    deps.metrics?.publishFailed(failed);
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
    await confirmChunk(deps.redis, deps.keys, acked);
    for (const a of acked) out.published.push({ deviceId: a.deviceId, version: a.version });
    await deps.onAcknowledged?.(acked.map((a) => a.deviceId));
  }

  /**
   * The documents as they go on the wire: sealed registry passwords opened.
   * One that does not open (the key changed since) stays pending, logged
   * without its content; the next drain composes it again without that host.
   */
  private revealed(docs: readonly { deviceId: string; version: number; payload: string }[], out: WriteOutcome): { deviceId: string; version: number; payload: string }[] {
    const reveal = this.deps.revealSecrets;
    if (!reveal) return [...docs];
    const ready: { deviceId: string; version: number; payload: string }[] = [];
    for (const d of docs) {
      try {
        ready.push({ ...d, payload: reveal(d.payload) });
      } catch (err) {
        out.pending.push(d.deviceId);
        this.deps.logger.error({ deviceId: d.deviceId, version: d.version, err: errorMessage(err) }, 'desired state not published: its registry credentials do not open');
      }
    }
    return ready;
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

  private store(items: readonly StoreItem[], generation: number, issuedAt: string, mode: '' | 'wipe'): Promise<StoreResult[]> {
    return storeChunk(this.deps.redis, this.deps.keys, items, generation, issuedAt, mode);
  }
}
