import { describe, expect, it } from 'vitest';
import { dirname } from 'node:path';
import { CLI } from '../helpers/agent-process.js';
import { spawnProcess } from '../helpers/process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/** `outpost up` with neither REDIS_URL nor redis-server on the PATH says how to get Redis, and exits non-zero. */
describe('outpost up without Redis', () => {
  it('explains how to get Redis', async () => {
    const dir = await makeTempDir('no-redis');
    try {
      const proc = spawnProcess(process.execPath, {
        args: [CLI, 'up', '--port', '0', '--api-port', '0'],
        env: { PATH: dirname(process.execPath), REDIS_URL: undefined, HOME: dir.path },
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
