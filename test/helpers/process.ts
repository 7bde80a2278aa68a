import { spawn, type ChildProcess } from 'node:child_process';

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when the process could not be spawned at all (e.g. ENOENT). */
  readonly error?: Error;
}

export interface SpawnProcessOptions {
  readonly args?: readonly string[];
  /** Merged over `process.env` unless `inheritEnv` is false. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly inheritEnv?: boolean;
  readonly cwd?: string;
  /** Label used in error messages; defaults to the command. */
  readonly name?: string;
  /** How many output lines to keep for failure messages. */
  readonly bufferLines?: number;
  /** Grace period between SIGTERM and SIGKILL in `stop()`. */
  readonly stopGraceMs?: number;
  /**
   * Run in its own process group and signal the whole group, as a terminal's
   * Ctrl-C does: for wrappers such as `npm start` that do not pass a signal on
   * to the script they run.
   */
  readonly processGroup?: boolean;
  /** Written to the process's stdin, which is then closed; without it stdin is /dev/null. */
  readonly stdin?: string;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number | undefined;
  /** `undefined` while the process runs. */
  readonly exitInfo: ExitInfo | undefined;
  /** The last `bufferLines` lines of stdout and stderr, interleaved, prefixed `out|`/`err|`. */
  output(): string;
  /** Resolves with the first line (already buffered or future) matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** Resolves when the process has exited; rejects after `timeoutMs` if given. */
  waitForExit(timeoutMs?: number): Promise<ExitInfo>;
  /** Sends `signal` to this PID only; a no-op once the process has exited. */
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after the grace period. Idempotent. */
  stop(graceMs?: number): Promise<ExitInfo>;
}

const DEFAULT_BUFFER_LINES = 200;
const DEFAULT_STOP_GRACE_MS = 5_000;
const CLOSE_AFTER_EXIT_MS = 200;

/*
 * A test worker that dies (timeout, crash, Ctrl-C) must not leave servers behind
 * on random ports. One `exit` hook for all live children avoids one listener per
 * child (MaxListenersExceededWarning in tests with many processes).
 */
const liveChildren = new Set<ChildProcess>();
/** Children started as process-group leaders: the exit hook and kill() signal the whole group. */
const processGroups = new WeakSet<ChildProcess>();

function signalChild(child: ChildProcess, signal: NodeJS.Signals): void {
  if (processGroups.has(child) && child.pid !== undefined) process.kill(-child.pid, signal);
  else child.kill(signal);
}
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of liveChildren) {
      try {
        signalChild(child, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

export function spawnProcess(command: string, opts: SpawnProcessOptions = {}): ManagedProcess {
  const name = opts.name ?? command;
  const maxLines = opts.bufferLines ?? DEFAULT_BUFFER_LINES;
  const defaultGraceMs = opts.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
  const env = opts.inheritEnv === false ? { ...opts.env } : { ...process.env, ...opts.env };

  const lines: string[] = [];
  const lineListeners = new Set<(line: string) => void>();
  const exitListeners = new Set<(info: ExitInfo) => void>();
  let exitInfo: ExitInfo | undefined;
  let stopping: Promise<ExitInfo> | undefined;

  const child = spawn(command, [...(opts.args ?? [])], {
    cwd: opts.cwd,
    env,
    stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    detached: opts.processGroup === true,
  });
  if (opts.processGroup === true) processGroups.add(child);
  installExitHook();
  liveChildren.add(child);
  if (opts.stdin !== undefined) child.stdin?.end(opts.stdin);

  const pushLine = (line: string): void => {
    lines.push(line);
    if (lines.length > maxLines) lines.shift();
    for (const listener of lineListeners) listener(line);
  };

  const attach = (stream: NodeJS.ReadableStream | null, prefix: string): void => {
    if (stream === null) return;
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      partial += chunk;
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const part of parts) pushLine(`${prefix}|${part.replace(/\r$/, '')}`);
    });
    stream.on('end', () => {
      if (partial !== '') pushLine(`${prefix}|${partial}`);
      partial = '';
    });
  };
  attach(child.stdout, 'out');
  attach(child.stderr, 'err');

  const finish = (info: ExitInfo): void => {
    if (exitInfo !== undefined) return;
    exitInfo = info;
    liveChildren.delete(child);
    for (const listener of exitListeners) listener(info);
    exitListeners.clear();
  };
  // Prefer 'close' so the last output lines are buffered before waiters wake up, but
  // do not wait for it long: an orphaned grandchild can hold the pipes open for ages.
  child.once('exit', (code, signal) => {
    const info: ExitInfo = { code, signal };
    const flushTimer = setTimeout(() => finish(info), CLOSE_AFTER_EXIT_MS);
    child.once('close', () => {
      clearTimeout(flushTimer);
      finish(info);
    });
  });
  child.once('error', (error) => {
    // 'error' without a later 'close' happens when spawn itself fails.
    if (child.pid === undefined) finish({ code: null, signal: null, error });
  });

  const output = (): string => lines.join('\n');

  const describeExit = (info: ExitInfo): string =>
    info.error !== undefined
      ? `failed to start: ${info.error.message}`
      : `exited (code=${String(info.code)}, signal=${String(info.signal)})`;

  const waitForExit = (timeoutMs?: number): Promise<ExitInfo> => {
    if (exitInfo !== undefined) return Promise.resolve(exitInfo);
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onExit = (info: ExitInfo): void => {
        if (timer !== undefined) clearTimeout(timer);
        resolve(info);
      };
      exitListeners.add(onExit);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          exitListeners.delete(onExit);
          reject(new Error(`${name} (pid ${String(child.pid)}) did not exit within ${timeoutMs} ms\n${output()}`));
        }, timeoutMs);
      }
    });
  };

  const waitForLine = (pattern: RegExp, timeoutMs: number): Promise<string> => {
    const already = lines.find((line) => pattern.test(line));
    if (already !== undefined) return Promise.resolve(already);
    if (exitInfo !== undefined) {
      return Promise.reject(new Error(`${name} ${describeExit(exitInfo)} before printing ${String(pattern)}\n${output()}`));
    }
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        lineListeners.delete(onLine);
        exitListeners.delete(onExit);
      };
      const onLine = (line: string): void => {
        if (!pattern.test(line)) return;
        cleanup();
        resolve(line);
      };
      const onExit = (info: ExitInfo): void => {
        cleanup();
        reject(new Error(`${name} ${describeExit(info)} before printing ${String(pattern)}\n${output()}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${name} did not print ${String(pattern)} within ${timeoutMs} ms\n${output()}`));
      }, timeoutMs);
      lineListeners.add(onLine);
      exitListeners.add(onExit);
    });
  };

  const kill = (signal: NodeJS.Signals = 'SIGTERM'): void => {
    if (exitInfo !== undefined || child.pid === undefined) return;
    try {
      signalChild(child, signal);
    } catch {
      // raced with exit
    }
  };

  const stop = (graceMs: number = defaultGraceMs): Promise<ExitInfo> => {
    stopping ??= (async () => {
      if (exitInfo !== undefined) return exitInfo;
      kill('SIGTERM');
      try {
        return await waitForExit(graceMs);
      } catch {
        kill('SIGKILL');
        return waitForExit();
      }
    })();
    return stopping;
  };

  return {
    name,
    get pid() {
      return child.pid;
    },
    get exitInfo() {
      return exitInfo;
    },
    output,
    waitForLine,
    waitForExit,
    kill,
    stop,
  };
}
