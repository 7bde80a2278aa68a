import type { Redis } from 'ioredis';
import { credentialKey } from '../../shared/device-credentials.js';
import { isDeviceId, type DeviceId } from '../../shared/device-id.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';

const DEFAULT_BATCH_SIZE = 200;
/** Device ids named in the info line of a pass, at most. */
const MAX_LOGGED_IDS = 20;

/** What the sweep needs of OutpostPersistence. */
export interface SweptStore {
  scanSessions(cursor: string, count: number): Promise<[string, string[]]>;
  scanWills(cursor: string, count: number): Promise<[string, string[]]>;
  /** Subscriptions, queue, in-flight and inbound state of a client, in one script; other brokers' indexes hear of it. */
  removeSession(clientId: string): Promise<void>;
  delWill(client: { id: string }): Promise<unknown>;
}

export interface OutpostSweepDeps {
  store: SweptStore;
  /** The connection credentials are read on. */
  credentialsRedis: Pick<Redis, 'pipeline'>;
  keyPrefix: string;
  /** Whether a client with this id is connected to this broker now. */
  isConnected(clientId: string): boolean;
  logger: Logger;
  intervalMs: number;
  /** Ids examined per Redis round trip. */
  batchSize?: number;
}

export interface OutpostSweepCounts {
  examined: number;
  sessions: number;
  wills: number;
}

/**
 * DD-020 with DD-028's key layout: the broker's safety net for sessions and
 * wills of device ids without a credential (decommissioned, or never
 * enrolled) that are not connected here; once at start, before aedes's first
 * will sweep could publish such a will, then every `intervalMs`. Sessions and
 * wills are two sets scanned in batches (SSCAN, then one pipelined EXISTS per
 * batch for the credentials), each removal one script. Never rejects.
 */
export class OutpostSessionSweeper {
  readonly #deps: OutpostSweepDeps;
  readonly #batch: number;
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<OutpostSweepCounts> | undefined;
  #loop: Promise<void> | undefined;
  #closed = false;

  constructor(deps: OutpostSweepDeps) {
    this.#deps = deps;
    this.#batch = deps.batchSize ?? DEFAULT_BATCH_SIZE;
  }

  start(): void {
    if (this.#closed || this.#timer !== undefined || this.#loop !== undefined) return;
    this.#schedule(0);
  }

  /** One pass; joins the running one if there is one. */
  sweep(): Promise<OutpostSweepCounts> {
    this.#pass ??= this.#sweep().finally(() => {
      this.#pass = undefined;
    });
    return this.#pass;
  }

  /** Stops scheduling and waits for a running pass, which stops at its next batch. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#loop;
    await this.#pass?.catch(() => undefined);
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#loop = this.#tick().finally(() => {
        this.#loop = undefined;
      });
    }, delayMs);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    try {
      await this.sweep();
    } catch (err) {
      this.#deps.logger.warn({ err: errorMessage(err) }, 'session sweep failed');
    }
    if (!this.#closed) this.#schedule(this.#deps.intervalMs);
  }

  async #sweep(): Promise<OutpostSweepCounts> {
    const started = Date.now();
    const counts: OutpostSweepCounts = { examined: 0, sessions: 0, wills: 0 };
    const removed = new Set<string>();
    const { store } = this.#deps;
    counts.sessions = await this.#each(
      (cursor) => store.scanSessions(cursor, this.#batch),
      (id) => store.removeSession(id),
      removed,
      (n) => (counts.examined += n),
    );
    counts.wills = await this.#each(
      (cursor) => store.scanWills(cursor, this.#batch),
      (id) => store.delWill({ id }),
      removed,
    );
    const { logger } = this.#deps;
    const fields = { ...counts, durationMs: Date.now() - started };
    logger.debug(fields, 'session sweep pass');
    if (counts.sessions + counts.wills > 0) {
      logger.info({ ...fields, deviceIds: [...removed].slice(0, MAX_LOGGED_IDS) }, 'state of devices without a credential removed');
    }
    return counts;
  }

  /** Removes, page by page, what belongs to ids without a credential that are not connected; returns how many. */
  async #each(
    page: (cursor: string) => Promise<[string, string[]]>,
    remove: (id: string) => Promise<unknown>,
    removed: Set<string>,
    examined: (n: number) => void = () => undefined,
  ): Promise<number> {
    let cursor = '0';
    let count = 0;
    do {
      const [next, ids] = await page(cursor);
      cursor = next;
      examined(ids.length);
      for (const id of await this.#withoutCredential(ids)) {
        if (this.#closed) return count;
        // Checked again: the lookup took a round trip.
        if (this.#deps.isConnected(id)) continue;
        await remove(id);
        removed.add(id);
        count += 1;
      }
    } while (cursor !== '0' && !this.#closed);
    return count;
  }

  /** The device ids among `ids` that are not connected here and have no credential, in one round trip. */
  async #withoutCredential(ids: readonly string[]): Promise<DeviceId[]> {
    const { credentialsRedis, keyPrefix, isConnected } = this.#deps;
    const candidates = ids.filter((id): id is DeviceId => isDeviceId(id) && !isConnected(id));
    if (candidates.length === 0) return [];
    const results = await credentialsRedis.pipeline(candidates.map((id) => ['exists', credentialKey(keyPrefix, id)])).exec();
    if (!results) throw new Error('credential lookup returned nothing');
    return candidates.filter((_, i) => {
      const [err, exists] = results[i] ?? [new Error('missing reply'), 1];
      // A failed lookup fails the pass: nothing is removed on doubt.
      if (err) throw err;
      return exists === 0;
    });
  }
}
