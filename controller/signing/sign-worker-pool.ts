import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { SignBatchInput } from './sign-batch.js';

interface Pending {
  resolve: (payloads: string[]) => void;
  reject: (err: Error) => void;
}

/**
 * One worker thread that signs batches of desired documents (DD-033):
 * Ed25519 and the canonical form are most of a deploy's CPU, and on the
 * event loop they delay the next chunk's publishes. Started on first use;
 * a worker that fails rejects what it held and the next batch starts a new
 * one. `available` is false where the compiled worker file is missing (code
 * run from TypeScript sources): callers then sign inline.
 */
export class SignWorkerPool {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private readonly file: string;
  readonly available: boolean;

  /** `file`: the compiled worker entry; tests point it at dist/. */
  constructor(
    private readonly logger: Logger,
    file?: string,
  ) {
    this.file = file ?? fileURLToPath(new URL('./sign-worker.js', import.meta.url));
    this.available = existsSync(this.file);
  }

  sign(input: SignBatchInput): Promise<string[]> {
    if (this.closed) return Promise.reject(new Error('signing worker closed'));
    const worker = this.started();
    const id = this.nextId++;
    return new Promise<string[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, input });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = null;
    this.failAll(new Error('signing worker closed'));
    if (worker) await worker.terminate();
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(this.file);
    // Never keeps the process alive by itself.
    worker.unref();
    worker.on('message', (m: { id: number; payloads?: string[]; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.payloads) p.resolve(m.payloads);
      else p.reject(new Error(`signing worker: ${m.error ?? 'no payloads'}`));
    });
    const gone = (err: Error): void => {
      if (this.worker !== worker) return;
      this.worker = null;
      this.logger.warn({ err: errorMessage(err) }, 'signing worker stopped; the next batch starts another');
      this.failAll(err);
    };
    worker.on('error', gone);
    worker.on('exit', (code) => gone(new Error(`signing worker exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
