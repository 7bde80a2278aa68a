import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Logger } from '../shared/logger.js';
import { sleep } from '../shared/clock.js';
import { redactUrl } from '../shared/redact-url.js';

export interface EmbeddedRedis {
  /** redis://:<password>@127.0.0.1:<port>: holds the password, never log it unredacted (shared/redact-url.ts). */
  readonly url: string;
  readonly pid: number | undefined;
  /** SIGTERM (Redis flushes its AOF) and wait for the exit. Idempotent. */
  stop(): Promise<void>;
}

/**
 * A redis-server left running by an `outpost up` that was killed with
 * SIGKILL (it could not stop its child) still holds the port and the AOF:
 * stop it before starting ours. Only a process that is a redis-server is
 * signalled.
 */
async function stopOrphan(pidFile: string, logger: Logger): Promise<void> {
  let pid: number;
  try {
    pid = Number((await readFile(pidFile, 'utf8')).trim());
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 1) return;
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.startsWith('redis-server')) return;
  } catch {
    return; // not running
  }
  logger.warn({ pid }, 'stopping a redis-server left behind by an earlier outpost up');
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(100);
  }
  process.kill(pid, 'SIGKILL');
}

export function redisServerAvailable(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * A private redis-server child for `outpost up` when no REDIS_URL is given:
 * loopback only and with a password (DD-027: any local user or process could
 * otherwise rewrite the registry), AOF on (durable sessions, queues and
 * versions), and `noeviction` because BullMQ and the registry must never
 * lose keys. The password goes in on stdin (`redis-server -`), never in the
 * arguments every local user can read with ps. Requiring a password on an
 * existing AOF changes nothing in the data: an upgraded data dir just works.
 */
export async function startEmbeddedRedis(opts: { dataDir: string; port: number; password: string; logger: Logger }): Promise<EmbeddedRedis> {
  // A config-file line ends at the newline and treats quotes and backslashes specially: refuse rather than mangle.
  if (!/^[\x21-\x7e]+$/.test(opts.password) || /["'\\]/.test(opts.password)) {
    throw new Error('the embedded Redis password must be printable ASCII without spaces, quotes or backslashes');
  }
  const dir = join(opts.dataDir, 'redis');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const pidFile = join(dir, 'redis.pid');
  await stopOrphan(pidFile, opts.logger);
  const child: ChildProcess = spawn(
    'redis-server',
    [
      '-', // the rest of the configuration (requirepass) from stdin
      '--port', String(opts.port),
      '--bind', '127.0.0.1',
      '--protected-mode', 'yes',
      '--dir', dir,
      '--appendonly', 'yes',
      '--appendfsync', 'everysec',
      '--save', '',
      '--maxmemory-policy', 'noeviction',
      '--daemonize', 'no',
      '--loglevel', 'warning',
      '--pidfile', pidFile,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(`requirepass ${opts.password}\n`);
  const lines: string[] = [];
  const keep = (chunk: Buffer): void => {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    lines.splice(0, Math.max(0, lines.length - 50));
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  child.once('error', (err) => lines.push(`spawn failed: ${err.message}`));

  const url = `redis://:${encodeURIComponent(opts.password)}@127.0.0.1:${opts.port}`;
  const shown = redactUrl(url);
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exited) throw new Error(`redis-server exited at start:\n${lines.join('\n')}`);
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') break;
    } catch {
      // not yet (or still loading the AOF)
    } finally {
      probe.disconnect();
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not answer on ${shown} within 20 s:\n${lines.join('\n')}`);
    }
    await sleep(100);
  }
  opts.logger.info({ url: shown, dir, pid: child.pid }, 'embedded redis started');

  let stopping: Promise<void> | undefined;
  return {
    url,
    pid: child.pid,
    stop() {
      stopping ??= (async () => {
        if (exited) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exit;
        clearTimeout(timer);
        opts.logger.info('embedded redis stopped');
      })();
      return stopping;
    },
  };
}
