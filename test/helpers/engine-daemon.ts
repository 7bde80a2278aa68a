import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdir, open, rm, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { spawnProcess, type ManagedProcess } from './process.js';
import { makeTempDir } from './temp-dir.js';
import { waitFor } from './wait-for.js';

const run = promisify(execFile);

/**
 * A second Docker engine, the device's own, whose storage (`--data-root`) is a
 * small tmpfs the test can fill: what a device with a full disk looks like to
 * its agent (issue 13, F11). The host's engine and its images are untouched.
 */
export interface EngineDaemon {
  /** For the agent's `--docker-socket`. */
  readonly socketPath: string;
  readonly docker: Docker;
  readonly pid: number | undefined;
  /** Bytes free on the engine's storage. */
  freeBytes(): Promise<number>;
  /** Writes a filler file on the engine's storage until only `leaveBytes` are free. */
  fill(leaveBytes: number): Promise<void>;
  /** Deletes the filler: the space returns. */
  unfill(): Promise<void>;
  output(): string;
  /** Stops the engine by its PID (SIGTERM, then SIGKILL), unmounts and deletes its storage. Idempotent. */
  stop(): Promise<void>;
}

export interface EngineDaemonOptions {
  /** Size of the engine's storage tmpfs. */
  readonly storageMiB: number;
  readonly startTimeoutMs?: number;
}

const MiB = 2 ** 20;

/**
 * Starts `dockerd` on its own socket, exec-root, pidfile, containerd
 * namespace and bridge, with no iptables rules, so it shares nothing with
 * the host's engine but the kernel. Never `--bridge none`: dockerd then
 * deletes the host's `docker0` (removeDefaultBridgeInterface), cutting every
 * other container off. Needs root (mount, ip, dockerd), as the e2e suite
 * already does.
 */
export async function startEngineDaemon(opts: EngineDaemonOptions): Promise<EngineDaemon> {
  const dir = await makeTempDir('engine');
  const storage = join(dir.path, 'storage');
  const socketPath = join(dir.path, 'docker.sock');
  const filler = join(storage, 'filler');
  const id = randomBytes(3).toString('hex');
  const namespace = `outpost-test-${id}`;
  // Its own bridge (interface names: at most 15 characters), on a random /24 of 10.210.0.0/13.
  const bridge = `opb${id}`;
  const bridgeAddress = `10.${210 + randomInt(8)}.${randomInt(256)}.1/24`;
  const freeBytes = async (): Promise<number> => {
    const s = await statfs(storage);
    return s.bavail * s.bsize;
  };
  let proc: ManagedProcess | undefined;
  let stopping: Promise<void> | undefined;
  // Each undo is harmless when its set-up step never ran: stop() also cleans up a failed start.
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await proc?.stop(15_000);
      await run('umount', [storage]).catch(() => run('umount', ['-l', storage]).catch(() => undefined));
      await run('ip', ['link', 'del', bridge]).catch(() => undefined);
      await dir.remove();
    })());
  try {
    await mkdir(storage);
    await mkdir(join(dir.path, 'exec'));
    // An empty config: the host's /etc/docker/daemon.json (hosts, bridge, …) must not apply.
    await writeFile(join(dir.path, 'daemon.json'), '{}\n');
    await run('mount', ['-t', 'tmpfs', '-o', `size=${opts.storageMiB}m`, 'tmpfs', storage]);
    await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    await run('ip', ['addr', 'add', bridgeAddress, 'dev', bridge]);
    await run('ip', ['link', 'set', bridge, 'up']);
    proc = spawnProcess('dockerd', {
      name: `dockerd ${namespace}`,
      args: [
        '--config-file', join(dir.path, 'daemon.json'),
        '--data-root', join(storage, 'docker'),
        '--exec-root', join(dir.path, 'exec'),
        '--pidfile', join(dir.path, 'dockerd.pid'),
        '--host', `unix://${socketPath}`,
        '--containerd-namespace', namespace,
        '--containerd-plugins-namespace', `${namespace}-plugins`,
        '--bridge', bridge,
        '--iptables=false',
        '--ip-masq=false',
        '--ip-forward=false',
      ],
      bufferLines: 300,
    });
    const docker = new Docker({ socketPath });
    await waitFor(
      async () => {
        if (proc?.exitInfo) throw new Error(`dockerd exited: ${JSON.stringify(proc.exitInfo)}\n${proc.output()}`);
        return docker.ping().then(
          () => true,
          () => false,
        );
      },
      { timeoutMs: opts.startTimeoutMs ?? 30_000, intervalMs: 200, description: 'the device engine answers' },
    );
    const daemon = proc;
    return {
      socketPath,
      docker,
      get pid() {
        return daemon.pid;
      },
      freeBytes,
      async fill(leaveBytes) {
        const file = await open(filler, 'a');
        try {
          const chunk = Buffer.alloc(MiB, 0x5a);
          for (let free = await freeBytes(); free > leaveBytes; free = await freeBytes()) {
            await file.write(chunk, 0, Math.min(MiB, free - leaveBytes));
          }
        } finally {
          await file.close();
        }
      },
      unfill: () => rm(filler, { force: true }),
      output: () => daemon.output(),
      stop,
    };
  } catch (err: unknown) {
    await stop();
    throw err;
  }
}
