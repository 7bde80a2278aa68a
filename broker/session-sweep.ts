import type { Redis } from 'ioredis';
import type { DeviceId } from '../shared/device-id.js';
import type { Logger } from '../shared/logger.js';
import type { OutgoingQueues } from './outgoing-queue.js';
import { parseWillKey } from './stale-wills.js';
import { idsWithoutCredential, type CredentialLookup } from './sweep-pass.js';
import { PeriodicPass } from '../shared/periodic-pass.js';

/** aedes-persistence-redis: the set of client ids with stored subscriptions, and the list of will keys. */
const CLIENTS_KEY = 'clients';
const WILL_LIST_KEY = 'will';
/** Inbound QoS 2 records of older brokers (`incoming:<client>:<messageId>`); none is written any more (DD-020). */
const INCOMING_PATTERN = 'incoming:*';
const DEFAULT_BATCH_SIZE = 200;
/** Keys examined per SCAN call while looking for `incoming:*`. */
const SCAN_COUNT = 1000;
/** Device ids named in the info line of a pass, at most. */
const MAX_LOGGED_IDS = 20;

export interface SessionSweepDeps extends CredentialLookup {
  /** The persistence's own connection: its keys carry no prefix of ours. */
  redis: Pick<Redis, 'sscan' | 'lrange' | 'scan' | 'unlink'>;
  persistence: {
    cleanSubscriptions(client: { id: string }): Promise<void>;
    delWill(client: { id: string; brokerId: string }): Promise<unknown>;
  };
  queues: Pick<OutgoingQueues, 'release'>;
  logger: Logger;
  intervalMs: number;
  /** Set members and will keys examined per Redis round trip. */
  batchSize?: number;
}

export interface SweepCounts {
  /** Client ids with a stored session that were looked at. */
  examined: number;
  sessions: number;
  wills: number;
  incoming: number;
}

/**
 * DD-020. aedes keeps persistent sessions forever (no session expiry, aedes
 * #1087). The controller purges a decommissioned device's session itself
 * (a clean=true CONNECT as the device); this is the broker's safety net for
 * when that never happened: sessions, queues and wills of device ids that
 * have no credential (decommissioned, or never enrolled: enrolment writes the
 * credential atomically with the device record) and are not connected here
 * are removed, once at start and then every `intervalMs`. Work is done in
 * batches of `batchSize` ids, one SSCAN/LRANGE and one pipelined EXISTS per
 * batch, so a pass over a large fleet never holds Redis or the event loop
 * for long. Never rejects: a failed pass is logged and the next one retries.
 */
export class SessionSweeper {
  readonly #deps: SessionSweepDeps;
  readonly #batch: number;
  readonly #passes: PeriodicPass<SweepCounts>;
  /** Older brokers' QoS 2 records are searched for once per process: nothing writes new ones. */
  #incomingDone = false;

  constructor(deps: SessionSweepDeps) {
    this.#deps = deps;
    this.#batch = deps.batchSize ?? DEFAULT_BATCH_SIZE;
    this.#passes = new PeriodicPass(() => this.#sweep(), { intervalMs: deps.intervalMs, logger: deps.logger, failure: 'session sweep failed' });
  }

  get #closed(): boolean {
    return this.#passes.closed;
  }

  /** Runs a pass now and then every intervalMs. */
  start(): void {
    this.#passes.start();
  }

  /** One pass; joins the running one if there is one. */
  sweep(): Promise<SweepCounts> {
    return this.#passes.run();
  }

  /** Stops scheduling and waits for a running pass, which stops at its next batch. Idempotent. */
  close(): Promise<void> {
    return this.#passes.close();
  }

  async #sweep(): Promise<SweepCounts> {
    const started = Date.now();
    const counts: SweepCounts = { examined: 0, sessions: 0, wills: 0, incoming: 0 };
    const removed: string[] = [];
    await this.#sweepSessions(counts, removed);
    await this.#sweepWills(counts);
    await this.#sweepIncoming(counts);
    const { logger } = this.#deps;
    const fields = { ...counts, durationMs: Date.now() - started };
    logger.debug(fields, 'session sweep pass');
    if (counts.sessions + counts.wills + counts.incoming > 0) {
      logger.info({ ...fields, deviceIds: removed.slice(0, MAX_LOGGED_IDS) }, 'state of devices without a credential removed');
    }
    return counts;
  }

  async #sweepSessions(counts: SweepCounts, removed: string[]): Promise<void> {
    const { redis, persistence, queues, isConnected } = this.#deps;
    let cursor = '0';
    do {
      const [next, ids] = await redis.sscan(CLIENTS_KEY, cursor, 'COUNT', this.#batch);
      cursor = next;
      counts.examined += ids.length;
      for (const id of await this.#withoutCredential(ids)) {
        if (this.#closed) return;
        // Checked again: the lookup took a round trip.
        if (isConnected(id)) continue;
        // Through the persistence, so every broker's subscription index forgets
        // the session too; its queue goes with the last subscription (outgoing-queue.ts).
        await persistence.cleanSubscriptions({ id });
        await queues.release(id);
        counts.sessions += 1;
        removed.push(id);
      }
    } while (cursor !== '0' && !this.#closed);
  }

  /**
   * Wills exist while their client is connected, and after a broker died
   * with it connected. aedes would publish the latter (its will sweep), which
   * for a decommissioned device would bring back a retained presence the
   * controller has cleared; the first pass runs before aedes's first sweep.
   */
  async #sweepWills(counts: SweepCounts): Promise<void> {
    const { redis, persistence } = this.#deps;
    let start = 0;
    while (!this.#closed) {
      const keys = await redis.lrange(WILL_LIST_KEY, start, start + this.#batch - 1);
      const wills = keys.map(parseWillKey).filter((w): w is NonNullable<typeof w> => w !== undefined);
      const orphans = new Set(await this.#withoutCredential([...new Set(wills.map((w) => w.clientId))]));
      let deleted = 0;
      for (const will of wills) {
        if (!orphans.has(will.clientId) || this.#deps.isConnected(will.clientId)) continue;
        await persistence.delWill({ id: will.clientId, brokerId: will.brokerId });
        deleted += 1;
      }
      counts.wills += deleted;
      if (keys.length < this.#batch) return;
      // delWill removed `deleted` entries of this window from the list.
      start += keys.length - deleted;
    }
  }

  async #sweepIncoming(counts: SweepCounts): Promise<void> {
    if (this.#incomingDone) return;
    const { redis } = this.#deps;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', INCOMING_PATTERN, 'COUNT', SCAN_COUNT);
      cursor = next;
      if (keys.length > 0) counts.incoming += await redis.unlink(...keys);
    } while (cursor !== '0' && !this.#closed);
    this.#incomingDone = cursor === '0';
  }

  #withoutCredential(ids: readonly string[]): Promise<DeviceId[]> {
    return idsWithoutCredential(ids, this.#deps);
  }

}
