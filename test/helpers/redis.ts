import { spawnProcess } from './process.js';
import { startRestartableServer, type RestartableServer } from './restartable-server.js';
import { exchange } from './tcp-probe.js';
import { makeTempDir } from './temp-dir.js';

export interface StartRedisOptions {
  /** AOF persistence; default false. Durability tests turn it on. */
  readonly appendonly?: boolean;
  /** Only meaningful with `appendonly`; default 'everysec' (Redis' default). */
  readonly appendfsync?: 'always' | 'everysec' | 'no';
  /** Data directory; a temp dir (deleted by `stop()`) when omitted. A given dir is never deleted. */
  readonly dir?: string;
  /** Fixed port; a free random one when omitted. */
  readonly port?: number;
  /** Appended to the command line, e.g. ['--maxclients', '100']. */
  readonly extraArgs?: readonly string[];
  /** `requirepass`: clients must AUTH; `url` then carries the password. */
  readonly password?: string;
  readonly startTimeoutMs?: number;
}

export interface RedisServer extends RestartableServer {
  readonly host: string;
  /** `redis://127.0.0.1:<port>`, or `redis://:<password>@127.0.0.1:<port>` */
  readonly url: string;
  readonly dir: string;
  /** Alias of `stop()`. */
  close(): Promise<void>;
}

const HOST = '127.0.0.1';

export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  const tempDir = opts.dir === undefined ? await makeTempDir('redis') : undefined;
  const dir = opts.dir ?? tempDir?.path ?? '';

  const server = await startRestartableServer({
    name: 'redis-server',
    port: opts.port,
    startTimeoutMs: opts.startTimeoutMs,
    spawn: async (port) =>
      spawnProcess('redis-server', {
        name: `redis-server:${port}`,
        args: [
          '--port', String(port),
          '--bind', HOST,
          '--save', '',
          '--appendonly', opts.appendonly === true ? 'yes' : 'no',
          '--appendfsync', opts.appendfsync ?? 'everysec',
          '--dir', dir,
          '--maxmemory-policy', 'noeviction',
          '--daemonize', 'no',
          ...(opts.password === undefined ? [] : ['--requirepass', opts.password]),
          ...(opts.extraArgs ?? []),
        ],
      }),
    // PING answers -LOADING while the AOF is replayed; only +PONG means ready. With a password, one
    // that takes AUTH (clients wait out the loading themselves).
    probe: async (port) =>
      opts.password === undefined
        ? (await exchange(port, 'PING\r\n', HOST)).startsWith('+PONG')
        : (await exchange(port, `AUTH ${opts.password}\r\n`, HOST)).startsWith('+OK'),
    cleanup: async () => tempDir?.remove(),
  });

  return {
    host: HOST,
    port: server.port,
    url: `redis://${opts.password === undefined ? '' : `:${encodeURIComponent(opts.password)}@`}${HOST}:${server.port}`,
    dir,
    get pid() {
      return server.pid;
    },
    output: server.output,
    kill9: server.kill9,
    terminate: server.terminate,
    restart: server.restart,
    stop: server.stop,
    close: server.stop,
  };
}
