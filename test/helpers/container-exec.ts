import Docker from 'dockerode';

/** Runs `sh -c script` in a running container; resolves with its exit code once it finished. */
export async function execStatus(containerId: string, script: string, docker: Docker = new Docker()): Promise<number> {
  const e = await docker.getContainer(containerId).exec({ Cmd: ['sh', '-c', script], AttachStdout: true, AttachStderr: true });
  const stream = await e.start({ hijack: true, stdin: false });
  await new Promise<void>((resolve, reject) => {
    stream.on('end', () => resolve());
    stream.on('error', reject);
    stream.resume();
  });
  const info = await e.inspect();
  return info.ExitCode ?? -1;
}

/** Like `execStatus`, but rejects unless the script exited 0. */
export async function execIn(containerId: string, script: string, docker: Docker = new Docker()): Promise<void> {
  const code = await execStatus(containerId, script, docker);
  if (code !== 0) throw new Error(`exec "${script}" in ${containerId.slice(0, 12)} exited ${code}`);
}

/** The update-lock commands a workload would run (O_EXCL through the shell's noclobber). */
export const TAKE_UPDATE_LOCK = 'set -C; echo $$ > /run/outpost/updates.lock';
export const RELEASE_UPDATE_LOCK = 'rm /run/outpost/updates.lock';
