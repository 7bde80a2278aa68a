/**
 * Runs async tasks one at a time per key, in order. Not for correctness
 * (registry writes are atomic scripts, registry-tx.ts) but for efficiency:
 * writers of one record in one process wait their turn instead of all
 * racing and retrying; across processes only a handful can collide.
 */
export class KeyedSerial {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
