/**
 * In-process rendezvous between an API call waiting for a command's answer
 * and the ingest that stores it. Register before publishing, so an answer
 * that overtakes the PUBACK is not missed. Keyed by device and command id.
 */
export class CommandWaiters<T> {
  private readonly waiting = new Map<string, Set<(value: T) => void>>();

  wait(key: string, timeoutMs: number): { promise: Promise<T | null>; cancel: () => void } {
    let done: (value: T | null) => void = () => undefined;
    const promise = new Promise<T | null>((resolve) => {
      done = resolve;
    });
    const listener = (value: T): void => finish(value);
    const timer = setTimeout(() => finish(null), Math.max(0, timeoutMs));
    timer.unref();
    const finish = (value: T | null): void => {
      clearTimeout(timer);
      const set = this.waiting.get(key);
      set?.delete(listener);
      if (set?.size === 0) this.waiting.delete(key);
      done(value);
    };
    const set = this.waiting.get(key) ?? new Set();
    set.add(listener);
    this.waiting.set(key, set);
    return { promise, cancel: () => finish(null) };
  }

  /** Hands the value to everyone waiting on `key`; returns how many were. */
  resolve(key: string, value: T): number {
    const set = this.waiting.get(key);
    if (!set) return 0;
    const listeners = [...set];
    for (const l of listeners) l(value);
    return listeners.length;
  }

  get size(): number {
    return this.waiting.size;
  }
}
