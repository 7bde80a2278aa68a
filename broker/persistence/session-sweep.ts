import type { DeviceId } from '../../shared/device-id.js';
import type { Logger } from '../../shared/logger.js';
import { idsWithoutCredential, type CredentialLookup } from '../sweep-pass.js';
import { PeriodicPass } from '../../shared/periodic-pass.js';

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

export interface OutpostSweepDeps extends CredentialLookup {
  store: SweptStore;
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
  readonly #passes: PeriodicPass<OutpostSweepCounts>;

  constructor(deps: OutpostSweepDeps) {
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
  sweep(): Promise<OutpostSweepCounts> {
    return this.#passes.run();
  }

  /** Stops scheduling and waits for a running pass, which stops at its next batch. Idempotent. */
  close(): Promise<void> {
    return this.#passes.close();
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

  #withoutCredential(ids: readonly string[]): Promise<DeviceId[]> {
    return idsWithoutCredential(ids, this.#deps);
  }

}
