import { existsSync } from 'node:fs';
import { chmod, mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

export const LOCK_FILE = 'updates.lock';
/** First word of a lock file the agent created (DD-018): workloads never write it. */
export const AGENT_LOCK_MARK = 'outpost-agent';

/**
 * Update locks (balena-style): each workload sees a directory of its own at
 * /run/outpost; while it holds `updates.lock` there (created with O_EXCL), the
 * agent downloads but does not replace or stop it, unless the desired state
 * says `force`. The agent takes the same lock, the same way, before it
 * touches a workload (DD-018).
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
    return existsSync(this.lockFile(workload));
  }

  heldBy(workloads: Iterable<string>): string[] {
    return [...workloads].filter((w) => this.held(w)).sort();
  }

  /**
   * Takes the lock for the agent with O_EXCL, exactly as a workload would:
   * false when the file exists already. The mark is written through the same
   * descriptor; the file is the agent's (root's), so in the sticky directory
   * a non-root workload cannot delete it.
   */
  async take(workload: string): Promise<boolean> {
    let file;
    try {
      file = await open(this.lockFile(workload), 'wx', 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
    try {
      await file.writeFile(`${AGENT_LOCK_MARK} pid=${process.pid}\n`);
    } finally {
      await file.close();
    }
    return true;
  }

  /** Whether the lock file is one the agent created (this run or a killed one). */
  async heldByAgent(workload: string): Promise<boolean> {
    try {
      return (await readFile(this.lockFile(workload), 'utf8')).startsWith(AGENT_LOCK_MARK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return false;
      throw err;
    }
  }

  /** Gives back a lock the agent took; a lock a workload holds is never removed here. */
  async release(workload: string): Promise<void> {
    if (await this.heldByAgent(workload)) await this.clear(workload);
  }

  /**
   * Removes every lock a previous agent process left behind (killed while it
   * held one), so it blocks neither the workload nor the next update. Called
   * once at start, before any pass.
   */
  async releaseLeftovers(): Promise<string[]> {
    let workloads: string[];
    try {
      workloads = await readdir(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const released: string[] = [];
    for (const w of workloads.sort()) {
      if (!(await this.heldByAgent(w))) continue;
      await this.clear(w);
      released.push(w);
    }
    return released;
  }

  /** A replaced container's lock dies with it: the new container starts unlocked. */
  async clear(workload: string): Promise<void> {
    await rm(this.lockFile(workload), { force: true });
  }

  private lockFile(workload: string): string {
    return join(this.root, workload, LOCK_FILE);
  }
}
