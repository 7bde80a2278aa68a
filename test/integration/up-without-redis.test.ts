import { describe, expect, it } from 'vitest';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI } from '../helpers/agent-process.js';
import { spawnProcess } from '../helpers/process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/** `outpost up` with neither REDIS_URL nor redis-server on the PATH says how to get Redis, and exits non-zero. */
describe('outpost up without Redis', () => {
  it('explains how to get Redis', async () => {
    const dir = await makeTempDir('no-redis');
    try {
      // A PATH with node and nothing else: no redis-server to fall back to.
      const bin = join(dir.path, 'bin');
      await mkdir(bin);
      await symlink(process.execPath, join(bin, 'node'));
      const proc = spawnProcess(process.execPath, {
        args: [CLI, 'up', '--port', '0', '--api-port', '0'],
        env: { PATH: bin, REDIS_URL: undefined, HOME: dir.path },
        inheritEnv: false,
        cwd: dir.path,
      });
      const exit = await proc.waitForExit(30_000);
      expect(exit.code).toBe(1);
      expect(proc.output()).toMatch(/no Redis: set REDIS_URL=redis:\/\/host:6379, or install redis-server/);
      expect(proc.output()).toMatch(/apt-get install redis-server/);
    } finally {
      await dir.remove();
    }
  });
});
