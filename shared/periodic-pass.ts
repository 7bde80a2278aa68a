import { errorMessage } from './errors.js';
import type { Logger } from './logger.js';

/**
 * The schedule of a periodic background pass (the broker's session sweepers,
 * DD-020; the controller's expiry refresh and delivery check): a pass at start, then
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
    // The server's listener keeps the process alive, not this timer.
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
