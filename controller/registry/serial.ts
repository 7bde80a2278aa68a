/**
 * Runs async tasks one at a time, in order. WATCH/MULTI is per connection,
 * so read-modify-write on a shared ioredis connection must not interleave.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
