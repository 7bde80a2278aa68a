export interface WaitForOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  /** What is being waited for; appears in the timeout error. */
  readonly description?: string;
}

/**
 * Polls `predicate` until it returns a truthy value, which is returned. A throwing
 * predicate counts as "not yet"; its last error is the timeout error's `cause`.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  opts: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 100;
  const description = opts.description ?? predicate.toString().slice(0, 200);
  const deadline = Date.now() + timeoutMs;
  let attempts = 0;
  let lastError: unknown;
  let lastValue: unknown;
  for (;;) {
    attempts += 1;
    try {
      const value = await predicate();
      if (value) return value as NonNullable<T>;
      lastValue = value;
      lastError = undefined;
    } catch (err: unknown) {
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
  }
  const last =
    lastError !== undefined
      ? `last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`
      : `last value: ${JSON.stringify(lastValue)}`;
  throw new Error(`waitFor timed out after ${timeoutMs} ms (${attempts} attempts): ${description}; ${last}`, {
    cause: lastError,
  });
}
