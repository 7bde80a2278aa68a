import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { spawnProcess } from './process.js';
import { startRestartableServer, type RestartableServer } from './restartable-server.js';
import { makeTempDir } from './temp-dir.js';

const execFileAsync = promisify(execFile);

export interface RegistryCredentials {
  readonly user: string;
  readonly password: string;
}

export interface StartRegistryOptions {
  /** Turns on htpasswd (bcrypt) basic auth with this one account. */
  readonly htpasswd?: RegistryCredentials;
  /** Fixed port; a free random one when omitted. */
  readonly port?: number;
  readonly startTimeoutMs?: number;
}

export interface RegistryServer extends RestartableServer {
  /** `127.0.0.1:<port>`: the image reference prefix, e.g. `${host}/app@sha256:...`. */
  readonly host: string;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Storage root (blobs and manifests); inside the temp dir. */
  readonly storageDir: string;
  /** Dockerode/Docker API auth for this registry, when `htpasswd` was given. */
  readonly authconfig: { username: string; password: string; serveraddress: string } | undefined;
  /** Replaces the htpasswd account (a password rotation) and restarts the registry on its port and storage. */
  setHtpasswd(account: RegistryCredentials): Promise<void>;
  /** Alias of `stop()`. */
  close(): Promise<void>;
}

const HOST = '127.0.0.1';

async function htpasswdLine({ user, password }: RegistryCredentials): Promise<string> {
  // -B: bcrypt, the only hash distribution's htpasswd backend accepts.
  const { stdout } = await execFileAsync('htpasswd', ['-Bbn', user, password]);
  return `${stdout.trim()}\n`;
}

/** distribution reads YAML, and JSON is YAML. */
function configFor(port: number, storageDir: string, htpasswdFile: string | undefined): string {
  return JSON.stringify(
    {
      version: 0.1,
      log: { level: 'info', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: storageDir }, delete: { enabled: true } },
      http: { addr: `${HOST}:${port}`, secret: randomBytes(16).toString('hex') },
      ...(htpasswdFile === undefined ? {} : { auth: { htpasswd: { realm: 'outpost-test', path: htpasswdFile } } }),
    },
    null,
    2,
  );
}

async function answersV2(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://${HOST}:${port}/v2/`, { signal: AbortSignal.timeout(1_000) });
    await res.body?.cancel();
    return res.status === 200 || res.status === 401;
  } catch {
    return false;
  }
}

export async function startRegistry(opts: StartRegistryOptions = {}): Promise<RegistryServer> {
  const tempDir = await makeTempDir('registry');
  const storageDir = join(tempDir.path, 'storage');
  const configFile = join(tempDir.path, 'config.yml');
  const htpasswdFile = opts.htpasswd === undefined ? undefined : join(tempDir.path, 'htpasswd');
  try {
    await mkdir(storageDir, { recursive: true });
    if (opts.htpasswd !== undefined && htpasswdFile !== undefined) {
      await writeFile(htpasswdFile, await htpasswdLine(opts.htpasswd));
    }
  } catch (err: unknown) {
    await tempDir.remove();
    throw err;
  }

  const server = await startRestartableServer({
    name: 'docker-registry',
    port: opts.port,
    startTimeoutMs: opts.startTimeoutMs,
    spawn: async (port) => {
      await writeFile(configFile, configFor(port, storageDir, htpasswdFile));
      return spawnProcess('docker-registry', { name: `docker-registry:${port}`, args: ['serve', configFile] });
    },
    probe: answersV2,
    cleanup: () => tempDir.remove(),
  });

  const host = `${HOST}:${server.port}`;
  return {
    host,
    port: server.port,
    url: `http://${host}`,
    storageDir,
    authconfig:
      opts.htpasswd === undefined
        ? undefined
        : { username: opts.htpasswd.user, password: opts.htpasswd.password, serveraddress: host },
    get pid() {
      return server.pid;
    },
    output: server.output,
    async setHtpasswd(account) {
      if (htpasswdFile === undefined) throw new Error('this registry was started without htpasswd');
      await writeFile(htpasswdFile, await htpasswdLine(account));
      await server.restart();
    },
    kill9: server.kill9,
    terminate: server.terminate,
    restart: server.restart,
    stop: server.stop,
    close: server.stop,
  };
}
