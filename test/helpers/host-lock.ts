import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Is a process with this pid alive on this host? */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `fn` while holding a lock shared by every process of this host (a
 * directory under the temp dir: mkdir is atomic). Test files run in parallel
 * forks; this lets one of them build an image while the others wait for it,
 * instead of all of them building it at once on a 2-core machine. A lock
 * whose owner died (kill -9 of a worker) is taken over.
 */
export async function withHostLock<T>(name: string, fn: () => Promise<T>, pollMs = 250): Promise<T> {
  const dir = join(tmpdir(), `outpost-lock-${name}`);
  const owner = join(dir, 'pid');
  for (;;) {
    try {
      await mkdir(dir);
      await writeFile(owner, String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(await readFile(owner, 'utf8').catch(() => ''));
      // No pid yet: its owner is between mkdir and writeFile, or died there (then the lock is old and still empty).
      const orphaned = pid > 0 ? !alive(pid) : Date.now() - ((await stat(dir).catch(() => undefined))?.mtimeMs ?? Date.now()) > 10_000;
      if (orphaned) await rm(dir, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
