import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnProcess } from './process.js';
import { startRestartableServer, type RestartableServer } from './restartable-server.js';
import { canConnect } from './tcp-probe.js';
import { makeTempDir } from './temp-dir.js';

export interface StartMosquittoOptions {
  /** Fixed port; a free random one when omitted. */
  readonly port?: number;
  /** Directory for the config and persistence; a temp dir (deleted by `stop()`) when omitted. */
  readonly dir?: string;
  /** Extra mosquitto.conf lines appended after the defaults. */
  readonly extraConfig?: readonly string[];
  readonly startTimeoutMs?: number;
  /** Default true (a stock test broker); false when an auth plugin decides. */
  readonly allowAnonymous?: boolean;
}

export interface MosquittoServer extends RestartableServer {
  readonly host: string;
  /** `mqtt://127.0.0.1:<port>` */
  readonly url: string;
  readonly dir: string;
  /** Written on the loop iteration after any change (autosave_on_changes + autosave_interval 1). */
  readonly persistenceFile: string;
  /** Alias of `stop()`. */
  close(): Promise<void>;
}

const HOST = '127.0.0.1';

function configFor(port: number, dataDir: string, extra: readonly string[], allowAnonymous: boolean): string {
  return [
    // Mosquitto 2 drops root privileges to user "mosquitto" unless told otherwise,
    // and then cannot write its persistence file into a root-owned temp dir.
    'user root',
    `listener ${port} ${HOST}`,
    `allow_anonymous ${allowAnonymous}`,
    'persistence true',
    `persistence_location ${dataDir}/`,
    'persistence_file mosquitto.db',
    'autosave_interval 1',
    'autosave_on_changes true',
    'max_queued_messages 10000',
    'max_inflight_messages 100',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'connection_messages true',
    ...extra,
    '',
  ].join('\n');
}

export async function startMosquitto(opts: StartMosquittoOptions = {}): Promise<MosquittoServer> {
  const tempDir = opts.dir === undefined ? await makeTempDir('mosquitto') : undefined;
  const dir = opts.dir ?? tempDir?.path ?? '';
  const dataDir = join(dir, 'data');
  const configFile = join(dir, 'mosquitto.conf');
  try {
    await mkdir(dataDir, { recursive: true });
  } catch (err: unknown) {
    await tempDir?.remove();
    throw err;
  }

  const server = await startRestartableServer({
    name: 'mosquitto',
    port: opts.port,
    startTimeoutMs: opts.startTimeoutMs,
    spawn: async (port) => {
      await writeFile(configFile, configFor(port, dataDir, opts.extraConfig ?? [], opts.allowAnonymous ?? true));
      return spawnProcess('mosquitto', { name: `mosquitto:${port}`, args: ['-c', configFile] });
    },
    probe: (port) => canConnect(port, HOST),
    cleanup: async () => tempDir?.remove(),
  });

  return {
    host: HOST,
    port: server.port,
    url: `mqtt://${HOST}:${server.port}`,
    dir,
    persistenceFile: join(dataDir, 'mosquitto.db'),
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
