import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/agent-process.js';
import { freePort } from '../helpers/free-port.js';
import { spawnProcess } from '../helpers/process.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

/**
 * A start that fails after it opened connections must close them: the
 * process then exits with an error instead of hanging, neither serving nor
 * exiting (issue 8).
 */
describe('a failed start exits', () => {
  let redis: RedisServer;
  let squatter: Server;
  let takenPort: number;

  beforeAll(async () => {
    redis = await startRedis();
    squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    takenPort = (squatter.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => squatter?.close(() => resolve()));
    await redis?.stop();
  });

  function run(args: string[], env: Record<string, string> = {}) {
    return spawnProcess(process.execPath, { name: `outpost ${args[0]}`, args: [CLI, ...args], env: { OUTPOST_SERVICE_PASSWORD: 'p'.repeat(24), OUTPOST_ADMIN_TOKEN: 't'.repeat(24), ...env } });
  }

  it('the controller with an unreachable Redis, once its --redis-wait is up', async () => {
    const deadPort = await freePort();
    const proc = run(['controller', '--redis', `redis://:hunter2-hunter2@127.0.0.1:${deadPort}`, '--broker', 'mqtt://127.0.0.1:1', '--api-port', '0', '--redis-wait', '2']);
    const exit = await proc.waitForExit(60_000);
    expect(exit.code, proc.output()).not.toBe(0);
    expect(proc.output()).toMatch(/Redis not reachable yet; waiting for it/);
    expect(proc.output()).toMatch(new RegExp(`Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${deadPort} not reachable after 2 s \\(.*ECONNREFUSED.*\\): start it, or check --redis`));
    expect(proc.output()).not.toContain('hunter2');
  });

  it('the controller started before its Redis waits for it, then serves', async () => {
    const port = await freePort();
    const proc = run(['controller', '--redis', `redis://127.0.0.1:${port}`, '--broker', 'mqtt://127.0.0.1:1', '--api-port', '0'], { OUTPOST_BROKER_WAIT_SECONDS: '0' });
    try {
      await proc.waitForLine(/Redis not reachable yet; waiting for it/, 30_000);
      const late = await startRedis({ port });
      try {
        await proc.waitForLine(/api listening/, 60_000);
        expect(proc.exitInfo, proc.output()).toBeUndefined();
        expect(proc.output()).toMatch(/Redis reachable/);
      } finally {
        await proc.stop();
        await late.stop();
      }
    } finally {
      await proc.stop();
    }
  });

  it('the controller whose API port is taken, after it connected to Redis', async () => {
    const proc = run(['controller', '--redis', redis.url, '--broker', 'mqtt://127.0.0.1:1', '--api-port', String(takenPort)], { OUTPOST_BROKER_WAIT_SECONDS: '0' });
    const exit = await proc.waitForExit(60_000);
    expect(exit.code, proc.output()).not.toBe(0);
    expect(proc.output()).toMatch(/EADDRINUSE/);
  });

  it('the broker whose port is taken, after it loaded its persistence', async () => {
    const proc = run(['broker', '--redis', redis.url, '--host', '127.0.0.1', '--port', String(takenPort)]);
    const exit = await proc.waitForExit(60_000);
    expect(exit.code, proc.output()).not.toBe(0);
    expect(proc.output()).toMatch(/EADDRINUSE/);
  });
});
