import { readlinkSync, realpathSync, statSync } from 'node:fs';

/**
 * What the device policy needs to know about the host's filesystem. Injected,
 * so the policy itself stays a pure function: unit tests pass a table, the
 * agent passes `nodeHostFs`. Synchronous on purpose: a handful of syscalls
 * per bind mount, and the inbox classifies a payload in one synchronous step.
 */
export interface HostFs {
  /** The canonical path, every symlink resolved; null when the path does not exist. Other errors throw. */
  realpath(path: string): string | null;
  /** `dev:ino` of what the path names (symlinks followed); null when it does not exist. Other errors throw. */
  identity(path: string): string | null;
  /** The target of a symbolic link as written (maybe relative); null when the path is no link or does not exist. */
  linkTarget(path: string): string | null;
}

function missing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** The real filesystem, as the agent process sees it (the host's, when the agent runs on the host). */
export const nodeHostFs: HostFs = {
  realpath(path) {
    try {
      return realpathSync.native(path);
    } catch (err) {
      if (missing(err)) return null;
      throw err;
    }
  },
  identity(path) {
    try {
      const s = statSync(path, { bigint: true });
      return `${s.dev}:${s.ino}`;
    } catch (err) {
      if (missing(err)) return null;
      throw err;
    }
  },
  linkTarget(path) {
    try {
      return readlinkSync(path);
    } catch (err) {
      if (missing(err) || (err as NodeJS.ErrnoException | null)?.code === 'EINVAL') return null;
      throw err;
    }
  },
};
