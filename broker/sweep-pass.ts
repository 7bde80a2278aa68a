import type { Redis } from 'ioredis';
import { credentialKey } from '../shared/device-credentials.js';
import { isDeviceId, type DeviceId } from '../shared/device-id.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';

/**
 * The schedule both session sweepers share (DD-020): a pass at start, then
 * one every `intervalMs` after the previous ended; a pass asked for while one
 * runs joins it; a failed pass is logged and the next one retries; close()
 * stops scheduling and waits for the running pass, which checks `closed`
 * between batches. Never rejects from its timer.
 */
export class PeriodicPass<T> {
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<T> | undefined;
  #loop: Promise<void> | undefined;
  #closed = false;

  constructor(
    private readonly pass: () => Promise<T>,
    private readonly opts: { intervalMs: number; logger: Logger; failure: string },
  ) {}

  get closed(): boolean {
    return this.#closed;
  }

  /** Runs a pass now and then every intervalMs. */
  start(): void {
    if (this.#closed || this.#timer !== undefined || this.#loop !== undefined) return;
    this.#schedule(0);
  }

  /** One pass; joins the running one if there is one. */
  run(): Promise<T> {
    this.#pass ??= this.pass().finally(() => {
      this.#pass = undefined;
    });
    return this.#pass;
  }

  /** Stops scheduling and waits for a running pass. Idempotent. */
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
    // The broker's listener keeps the process alive, not this timer.
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    try {
      await this.run();
    } catch (err) {
      this.opts.logger.warn({ err: errorMessage(err) }, this.opts.failure);
    }
    if (!this.#closed) this.#schedule(this.opts.intervalMs);
  }
}

export interface CredentialLookup {
  /** The connection credentials are read on. */
  credentialsRedis: Pick<Redis, 'pipeline'>;
  keyPrefix: string;
  /** Whether a client with this id is connected to this broker now. */
  isConnected(clientId: string): boolean;
}

/** The device ids among `ids` that are not connected here and have no credential, in one round trip. */
export async function idsWithoutCredential(ids: readonly string[], deps: CredentialLookup): Promise<DeviceId[]> {
  const { credentialsRedis, keyPrefix, isConnected } = deps;
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
