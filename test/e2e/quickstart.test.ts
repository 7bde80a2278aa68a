import { afterAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLI, startAgent } from '../helpers/agent-process.js';
import { deviceContainers } from '../helpers/device-containers.js';
import { removeDeviceContainers } from '../helpers/docker.js';
import { freePort } from '../helpers/free-port.js';
import { TEST_IMAGE } from '../helpers/images.js';
import { spawnProcess, type ManagedProcess } from '../helpers/process.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { connectTestController, type TestController } from '../helpers/test-controller.js';

const run = promisify(execFile);

/** The README's quick start, step by step: `outpost up`, add a device, run its agent, publish, watch. */
describe('README quick start', () => {
  let dir: TempDir;
  let up: ManagedProcess | undefined;
  let agent: ManagedProcess | undefined;
  let controller: TestController | undefined;
  const deviceId = `kiosk-${Math.random().toString(36).slice(2, 8)}`;

  afterAll(async () => {
    await agent?.stop();
    await controller?.close();
    await up?.stop();
    await removeDeviceContainers(deviceId);
    await dir?.remove();
  });

  it('works as written, and outpost up stops its private Redis on SIGTERM', async () => {
    dir = await makeTempDir('quickstart');
    const [port, redisPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const env = { REDIS_URL: undefined, OUTPOST_SERVICE_PASSWORD: undefined };
    up = spawnProcess(process.execPath, {
      name: 'outpost up',
      args: [CLI, 'up', '--data-dir', join(dir.path, '.outpost'), '--port', String(port), '--redis-port', String(redisPort), '--api-port', String(apiPort)],
      env,
      cwd: dir.path,
    });
    await up.waitForLine(/outpost is up/, 30_000);
    const redisLine = await up.waitForLine(/embedded redis started/, 1_000);
    expect(redisLine).toContain(`redis://127.0.0.1:${redisPort}`);

    const { stdout: secret } = await run(process.execPath, [CLI, 'broker', 'add-device', deviceId, '--redis', `redis://127.0.0.1:${redisPort}`]);
    const secretFile = join(dir.path, `${deviceId}.secret`);
    await writeFile(secretFile, secret);

    agent = await startAgent({
      deviceId,
      brokerUrl: `mqtt://127.0.0.1:${port}`,
      secret: '',
      stateDir: join(dir.path, 'state'),
      extraArgs: ['--secret-file', secretFile],
      env: { OUTPOST_DEVICE_SECRET: undefined },
    });

    const servicePassword = (await readFile(join(dir.path, '.outpost', 'service-password'), 'utf8')).trim();
    controller = await connectTestController(`mqtt://127.0.0.1:${port}`, { username: 'svc:outpost', password: servicePassword });
    const watch = await controller.watch(deviceId);

    const desired = join(dir.path, 'desired.json');
    await writeFile(
      desired,
      JSON.stringify({
        protocol: 1,
        deviceId,
        version: 1,
        issuedAt: '2026-11-23T12:00:00Z',
        workloads: { web: { image: TEST_IMAGE, command: ['httpd', '-f', '-p', '8080'] } },
      }),
    );
    await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-i', 'svc:cli', '-u', 'svc:outpost', '-P', servicePassword, '-q', '1', '-r', '-t', `outpost/v1/devices/${deviceId}/desired`, '-f', desired]);

    await watch.waitForReport((r) => r.phase === 'converged' && r.desired.appliedVersion === 1, 60_000, 'converged');
    const [web] = await deviceContainers(deviceId);
    expect(web?.state).toBe('running');

    const redisPid = (JSON.parse(redisLine.replace(/^out\|/, '')) as { pid: number }).pid;
    expect(() => process.kill(redisPid, 0)).not.toThrow();
    up.kill('SIGTERM');
    const exit = await up.waitForExit(30_000);
    expect(exit.code).toBe(0);
    expect(up.output()).toMatch(/embedded redis stopped/);
    expect(() => process.kill(redisPid, 0)).toThrow();
  });
});
