import { freePort } from './free-port.js';
import type { ManagedProcess } from './process.js';
import { PORT_TAKEN, waitForServer } from './server-ready.js';

export interface RestartableServerOptions {
  /** Used in error messages, e.g. 'redis-server'. */
  readonly name: string;
  /** Fixed port; a free random one (retried if another process takes it first) when omitted. */
  readonly port?: number;
  /** Spawns the server on `port`; must not wait for readiness. */
  readonly spawn: (port: number) => Promise<ManagedProcess>;
  /** Readiness probe; polled until true. */
  readonly probe: (port: number) => Promise<boolean>;
  readonly startTimeoutMs?: number;
  /** Runs once after the final stop (e.g. deleting the temp dir). */
  readonly cleanup?: () => Promise<void>;
}

/** The lifecycle shared by servers that tests crash and restart on the same port and data dir. */
export interface RestartableServer {
  readonly port: number;
  /** PID of the current process; undefined while down. */
  readonly pid: number | undefined;
  /** Recent output lines of the current process. */
  output(): string;
  /** SIGKILL (crash); data stays for `restart()`. */
  kill9(): Promise<void>;
  /** Graceful SIGTERM shutdown; data stays for `restart()`. */
  terminate(): Promise<void>;
  /** Gracefully stops the process if it runs, then starts it again on the same port. */
  restart(): Promise<void>;
  /** Stops the process and runs `cleanup`. Idempotent; `restart()` is refused afterwards. */
  stop(): Promise<void>;
}

const PORT_ATTEMPTS = 3;

export async function startRestartableServer(opts: RestartableServerOptions): Promise<RestartableServer> {
  const launch = async (port: number): Promise<ManagedProcess> => {
    const proc = await opts.spawn(port);
    try {
      await waitForServer(proc, () => opts.probe(port), { timeoutMs: opts.startTimeoutMs ?? 20_000 });
      return proc;
    } catch (err: unknown) {
      await proc.stop(1_000);
      throw err;
    }
  };

  let port = opts.port ?? (await freePort());
  let current: ManagedProcess | undefined;
  try {
    for (let attempt = 1; current === undefined; attempt += 1) {
      try {
        current = await launch(port);
      } catch (err: unknown) {
        const retry =
          opts.port === undefined && attempt < PORT_ATTEMPTS && err instanceof Error && PORT_TAKEN.test(err.message);
        if (!retry) throw err;
        port = await freePort();
      }
    }
  } catch (err: unknown) {
    await opts.cleanup?.();
    throw err;
  }

  const halt = async (signal: 'SIGTERM' | 'SIGKILL'): Promise<void> => {
    const proc = current;
    current = undefined;
    if (proc === undefined) return;
    if (signal === 'SIGKILL') {
      proc.kill('SIGKILL');
      await proc.waitForExit();
    } else {
      await proc.stop();
    }
  };

  let stopping: Promise<void> | undefined;
  const fixedPort = port;
  return {
    port: fixedPort,
    get pid() {
      return current?.pid;
    },
    output: () => current?.output() ?? '',
    kill9: () => halt('SIGKILL'),
    terminate: () => halt('SIGTERM'),
    async restart() {
      if (stopping !== undefined) throw new Error(`${opts.name}:${fixedPort} was stopped; restart() is not possible`);
      await halt('SIGTERM');
      current = await launch(fixedPort);
    },
    stop() {
      stopping ??= (async () => {
        await halt('SIGTERM');
        await opts.cleanup?.();
      })();
      return stopping;
    },
  };
}
