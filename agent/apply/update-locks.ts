import { existsSync } from 'node:fs';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

export const LOCK_FILE = 'updates.lock';

/**
 * Update locks (balena-style): each workload sees a directory of its own at
 * /run/outpost; while it holds `updates.lock` there (created with O_EXCL), the
 * agent downloads but does not replace or stop it, unless the desired state
 * says `force`.
 */
export class UpdateLocks {
  constructor(private readonly root: string) {}

  /** Host directory for a workload's lock, created world-writable so any container user can take the lock. */
  async dirFor(workload: string): Promise<string> {
    const dir = join(this.root, workload);
    await mkdir(dir, { recursive: true });
    await chmod(dir, 0o1777);
    return dir;
  }

  pathFor(workload: string): string {
    return join(this.root, workload);
  }

  held(workload: string): boolean {
    return existsSync(join(this.root, workload, LOCK_FILE));
  }

  heldBy(workloads: Iterable<string>): string[] {
    return [...workloads].filter((w) => this.held(w)).sort();
  }

  /** A replaced container's lock dies with it: the new container starts unlocked. */
  async clear(workload: string): Promise<void> {
    await rm(join(this.root, workload, LOCK_FILE), { force: true });
  }
}
