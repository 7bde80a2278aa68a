import type { ManagedProcess } from './process.js';

export interface WaitForServerOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
}

/** Matches a start failure caused by another process taking the port first. */
export const PORT_TAKEN = /address already in use|EADDRINUSE/i;

/**
 * Polls `probe` until it returns true. Fails at once (with the server's output)
 * if the process exits first, and on timeout. Does not stop the process.
 */
export async function waitForServer(
  proc: ManagedProcess,
  probe: () => Promise<boolean>,
  opts: WaitForServerOptions = {},
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    if (proc.exitInfo !== undefined) {
      const { code, signal, error } = proc.exitInfo;
      throw new Error(
        `${proc.name} exited before becoming ready (code=${String(code)}, signal=${String(signal)})\n${proc.output()}`,
        { cause: error },
      );
    }
    try {
      if (await probe()) return;
    } catch (err: unknown) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      throw new Error(`${proc.name} (pid ${String(proc.pid)}) not ready within ${timeoutMs} ms\n${proc.output()}`, {
        cause: lastError,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
