import type { Redis } from 'ioredis';
import type { BackoffPolicy } from '../../shared/backoff.js';
import { errorMessage } from '../../shared/errors.js';
import { NO_FAILPOINTS, type Failpoints } from '../../shared/failpoints.js';
import type { Logger } from '../../shared/logger.js';
import type { Topics } from '../../shared/topics.js';
import type { RedisLease } from '../coordination/redis-lease.js';
import { RetryTimer } from '../coordination/retry-timer.js';
import type { DesiredWriter } from '../desired-state/desired-writer.js';
import { ControllerError } from '../errors.js';
import type { StatusStore } from '../ingest/status-store.js';
import { DecommissionRecord, type DecommissionStep } from '../model/decommission.js';
import type { ServicePublisher } from '../mqtt/service-publisher.js';
import type { SessionControl } from '../mqtt/session-control.js';
import type { DeviceStore } from '../registry/device-store.js';
import type { Keys } from '../registry/keys.js';
import { optimistic } from '../registry/registry-tx.js';

/** How long a finished decommission is remembered, so a retried DELETE answers like the first. */
export const DECOMMISSION_TOMBSTONE_MS = 24 * 3600 * 1000;
const DEFAULT_RETRY: BackoffPolicy = { baseMs: 1000, capMs: 60_000, factor: 2 };

export interface DecommissionOptions {
  wipe?: boolean;
  wipeTimeoutSeconds?: number;
}

export interface DecommissionerDeps {
  redis: Redis;
  keys: Keys;
  topics: Topics;
  devices: DeviceStore;
  status: StatusStore;
  writer: DesiredWriter;
  lease: RedisLease;
  mqtt: ServicePublisher;
  sessions: SessionControl;
  /** Purges the device's broker session and queued messages (see mqtt/purge-session.ts). */
  purgeSession: (deviceId: string) => Promise<void>;
  /** Removes the credential (default: the record in Redis); a broker with its own client list drops the client too. */
  revokeCredential?: (deviceId: string) => Promise<void>;
  logger: Logger;
  now: () => number;
  failpoints?: Failpoints;
  retry?: BackoffPolicy;
  /** How often the wipe looks at the device's report while it waits. */
  wipePollMs?: number;
}

/**
 * Decommission as a durable sequence of idempotent steps (DD-022):
 *
 *   tombstone (atomic: from now on nothing is stored or published for the
 *   device, and without --wipe its credential is revoked) → wipe (optional:
 *   an empty desired state, then a bounded wait for the device to report it
 *   runs nothing) → clear the retained topics (under the publish lease, so no
 *   drain can publish after it) → purge the broker session and its queue →
 *   forget the records (the tombstone stays a day for retries).
 *
 * The tombstone holds the steps left. A failed step is retried with back-off
 * by this or any other controller (resume() at start and on a timer) until
 * it succeeds; meanwhile the device shows as decommissioning.
 */
export class Decommissioner {
  private readonly failpoints: Failpoints;
  private readonly inFlight = new Map<string, Promise<DecommissionRecord>>();
  private readonly retry: RetryTimer;
  private closed = false;

  constructor(private readonly deps: DecommissionerDeps) {
    this.failpoints = deps.failpoints ?? NO_FAILPOINTS;
    this.retry = new RetryTimer(() => this.resume(), deps.retry ?? DEFAULT_RETRY, deps.logger, 'decommission');
  }

  /**
   * Starts (or, for a retry, continues) the decommission and runs its steps
   * as far as they go now. Returns the record: `done`, or `pending` with the
   * step that failed and why (it keeps being retried).
   */
  async request(id: string, opts: DecommissionOptions = {}): Promise<DecommissionRecord> {
    const existing = await this.deps.devices.tombstone(id);
    if (!existing) await this.tombstone(id, opts);
    else if (existing.state === 'done') return existing;
    return this.run(id);
  }

  /** Every decommission with steps left. */
  async pending(): Promise<DecommissionRecord[]> {
    const ids = (await this.deps.redis.smembers(this.deps.keys.decommissioning())).sort();
    const records = await Promise.all(ids.map((id) => this.deps.devices.tombstone(id)));
    return records.filter((r): r is DecommissionRecord => r !== null && r.state === 'pending');
  }

  /** Runs the steps of every pending decommission; schedules another try while any is left (or Redis failed). */
  async resume(): Promise<void> {
    let left = false;
    try {
      for (const record of await this.pending()) {
        const after = await this.run(record.deviceId).catch((err: unknown) => {
          this.deps.logger.warn({ deviceId: record.deviceId, err: errorMessage(err) }, 'decommission step failed');
          return null;
        });
        if (!after || after.state === 'pending') left = true;
      }
    } catch (err) {
      this.deps.logger.warn({ err: errorMessage(err) }, 'cannot read pending decommissions; retrying later');
      left = true;
    }
    this.retry.settled(left);
  }

  close(): void {
    this.closed = true;
    this.retry.close();
  }

  private async tombstone(id: string, opts: DecommissionOptions): Promise<void> {
    const { deps } = this;
    const wipe = opts.wipe ?? false;
    const record: DecommissionRecord = {
      deviceId: id,
      state: 'pending',
      requestedAt: new Date(deps.now()).toISOString(),
      wipe,
      wipeTimeoutSeconds: opts.wipeTimeoutSeconds ?? 120,
      remaining: wipe ? ['wipe', 'clear-retained', 'purge-session', 'forget'] : ['clear-retained', 'purge-session', 'forget'],
      wipeVersion: null,
      wiped: wipe ? 'pending' : 'not-requested',
      attempts: 0,
      lastError: null,
      finishedAt: null,
    };
    const started = await optimistic(`device ${id}`, async () => {
      const [raw, tomb] = await deps.redis.mget(deps.keys.device(id), deps.keys.deviceTombstone(id));
      if (tomb) return { tx: null, result: false }; // someone else began it: theirs is the decommission
      if (raw === null || raw === undefined) throw new ControllerError('DEVICE_NOT_FOUND', `device ${id} does not exist`);
      const tx = deps.devices
        .tx()
        .expect(deps.keys.device(id), raw)
        .expect(deps.keys.deviceTombstone(id), null)
        .set(deps.keys.deviceTombstone(id), JSON.stringify(record))
        .sadd(deps.keys.decommissioning(), id);
      // Without a wipe the device has nothing more to hear: it cannot connect from now on.
      if (!wipe) tx.del(deps.keys.credential(id));
      return { tx, result: true };
    });
    if (!started) return;
    deps.logger.info({ deviceId: id, wipe }, 'device decommission started');
    if (!wipe) await this.endSessions(id);
    await this.failpoints.hit('decommission:after-tombstone');
  }

  /** Runs the remaining steps in order until one fails; one run per device at a time in this process. */
  private run(id: string): Promise<DecommissionRecord> {
    const current = this.inFlight.get(id);
    if (current) return current;
    const run = this.runSteps(id).finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, run);
    return run;
  }

  private async runSteps(id: string): Promise<DecommissionRecord> {
    for (;;) {
      const raw = await this.deps.devices.tombstoneRaw(id);
      if (raw === null) throw new ControllerError('DEVICE_NOT_FOUND', `device ${id} does not exist`);
      const record = DecommissionRecord.parse(JSON.parse(raw));
      const step = record.remaining[0];
      if (record.state === 'done' || step === undefined) return record;
      let patch: Partial<DecommissionRecord>;
      try {
        patch = await this.step(step, record);
      } catch (err) {
        const failed = { ...record, attempts: record.attempts + 1, lastError: `${step}: ${errorMessage(err)}`.slice(0, 2048) };
        await this.deps.devices.tx().expect(this.deps.keys.deviceTombstone(id), raw).set(this.deps.keys.deviceTombstone(id), JSON.stringify(failed)).commit();
        this.deps.logger.warn({ deviceId: id, step, attempts: failed.attempts, err: errorMessage(err) }, 'decommission step failed; retrying later');
        this.retry.settled(true);
        return failed;
      }
      await this.failpoints.hit(`decommission:after-${step}`);
      if (step === 'forget') continue; // forget rewrote the tombstone itself
      // The step may have updated the record itself (the wipe's version); a
      // record whose first step is no longer this one was advanced by another
      // controller: read again and go on from there.
      const nowRaw = await this.deps.devices.tombstoneRaw(id);
      const now = nowRaw === null ? null : DecommissionRecord.parse(JSON.parse(nowRaw));
      if (!now || now.remaining[0] !== step) continue;
      const next = { ...now, ...patch, remaining: now.remaining.slice(1), lastError: null };
      await this.deps.devices.tx().expect(this.deps.keys.deviceTombstone(id), nowRaw).set(this.deps.keys.deviceTombstone(id), JSON.stringify(next)).commit();
    }
  }

  private async step(step: DecommissionStep, record: DecommissionRecord): Promise<Partial<DecommissionRecord>> {
    switch (step) {
      case 'wipe':
        return this.wipe(record);
      case 'clear-retained':
        await this.clearRetained(record.deviceId);
        return {};
      case 'purge-session':
        await this.deps.purgeSession(record.deviceId);
        await this.revoke(record.deviceId);
        return {};
      case 'forget':
        await this.forget(record);
        return {};
    }
  }

  /**
   * An empty desired state as a new version (stored despite the tombstone,
   * published under the lease), then a bounded wait for the device to report
   * it applied it and runs nothing. Afterwards the credential is revoked.
   */
  private async wipe(record: DecommissionRecord): Promise<Partial<DecommissionRecord>> {
    const { deps } = this;
    const id = record.deviceId;
    let wipeVersion = record.wipeVersion;
    if (wipeVersion === null) {
      const lease = await deps.lease.acquire(deps.keys.publishLease(), 30_000);
      if (!lease) throw new Error('the publish lease stayed taken');
      try {
        const generation = Number((await deps.redis.get(deps.keys.generation())) ?? 0);
        const stored = await deps.writer.storeWipe(id, generation);
        if (!stored) throw new Error('the empty desired state could not be stored');
        const out = { published: [], unchanged: 0, pending: [], superseded: 0, problems: {} };
        await deps.writer.publish([{ deviceId: id, ...stored }], { stillHeld: () => lease.held }, out);
        if (out.pending.length > 0) throw new Error('the broker did not acknowledge the empty desired state');
        wipeVersion = stored.version;
      } finally {
        await lease.release();
      }
      // Remember the version at once: a retry must wait for this one, not publish another.
      const raw = await deps.devices.tombstoneRaw(id);
      if (raw) await deps.devices.tx().expect(deps.keys.deviceTombstone(id), raw).set(deps.keys.deviceTombstone(id), JSON.stringify({ ...record, wipeVersion })).commit();
    }
    const deadline = Date.parse(record.requestedAt) + record.wipeTimeoutSeconds * 1000;
    const confirmed = await this.waitForEmpty(id, wipeVersion, deadline);
    deps.logger.info({ deviceId: id, wipeVersion, confirmed }, confirmed ? 'device removed its workloads' : 'device did not confirm the wipe in time');
    await this.revoke(id);
    await this.endSessions(id);
    return { wipeVersion, wiped: confirmed ? 'confirmed' : 'unconfirmed' };
  }

  private async waitForEmpty(id: string, version: number, deadlineMs: number): Promise<boolean> {
    for (;;) {
      const reported = (await this.deps.status.get(id)).reported;
      // Applied the empty document, and runs nothing: every workload it still lists says `removed`.
      if (reported && (reported.desired.appliedVersion ?? 0) >= version && Object.values(reported.workloads).every((w) => w.state === 'removed')) return true;
      if (this.deps.now() >= deadlineMs || this.closed) return false;
      await new Promise((r) => setTimeout(r, Math.min(this.deps.wipePollMs ?? 250, Math.max(0, deadlineMs - this.deps.now()))));
    }
  }

  /** Under the publish lease: any drain that published for the device finished before, none starts sending after. */
  private async clearRetained(id: string): Promise<void> {
    const { deps } = this;
    const lease = await deps.lease.acquire(deps.keys.publishLease(), 30_000);
    if (!lease) throw new Error('the publish lease stayed taken');
    try {
      for (const topic of [deps.topics.desired(id), deps.topics.reported(id), deps.topics.presence(id)]) {
        await deps.mqtt.publish(topic, Buffer.alloc(0), { retain: true, qos: 1 });
      }
    } finally {
      await lease.release();
    }
  }

  /** Drops every record of the device but its version counter; the tombstone says `done` for a day. */
  private async forget(record: DecommissionRecord): Promise<void> {
    const { deps } = this;
    const id = record.deviceId;
    const raw = await deps.devices.tombstoneRaw(id);
    const done: DecommissionRecord = { ...record, state: 'done', remaining: [], lastError: null, finishedAt: new Date(deps.now()).toISOString() };
    const committed = await deps.devices
      .tx()
      .expect(deps.keys.deviceTombstone(id), raw)
      .del(deps.keys.device(id))
      .srem(deps.keys.devices(), id)
      .del(deps.keys.status(id))
      .del(deps.keys.events(id))
      .del(deps.keys.eventIds(id))
      .del(deps.keys.desired(id))
      .del(deps.keys.credential(id))
      .del(deps.keys.brokerSecretPending(id))
      .srem(deps.keys.brokerSecretsPending(), id)
      .srem(deps.keys.unpublished(), id)
      .zrem(deps.keys.expiries(), id)
      .zrem(deps.keys.receipts(), id)
      .srem(deps.keys.decommissioning(), id)
      .set(deps.keys.deviceTombstone(id), JSON.stringify(done), { pxMs: DECOMMISSION_TOMBSTONE_MS })
      .commit();
    if (committed.ok) deps.logger.info({ deviceId: id, wiped: record.wiped }, 'device decommissioned');
  }

  /** The device can no longer connect: its credential record, and the broker's own copy where it keeps one (DD-030). */
  private async revoke(id: string): Promise<void> {
    if (this.deps.revokeCredential) await this.deps.revokeCredential(id);
    else await this.deps.redis.del(this.deps.keys.credential(id));
  }

  private async endSessions(id: string): Promise<void> {
    await this.deps.sessions.credentialChanged(id).catch((err: unknown) => {
      // The purge step takes the session over anyway.
      this.deps.logger.debug({ deviceId: id, err: errorMessage(err) }, 'could not announce the revoked credential');
    });
  }
}
