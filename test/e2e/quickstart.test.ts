import { afterAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLI, startAgent } from '../helpers/agent-process.js';
import { testBrokerKind } from '../helpers/broker-mode.js';
import { deviceContainers } from '../helpers/device-containers.js';
import { removeDeviceContainers, waitFor } from '../helpers/docker.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { freePort } from '../helpers/free-port.js';
import { TEST_IMAGE } from '../helpers/images.js';
import { spawnProcess, type ManagedProcess } from '../helpers/process.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

const run = promisify(execFile);

/**
 * The README quick start, step by step, in a fresh directory: `outpost up`,
 * `device add` with a certificate from up's own CA, the agent over
 * mqtts:// with it, `release create`, `deploy`, `device override`, `status`
 * and `device show` — with the test image instead of busybox:1.36 (no public
 * registry here) and random ports instead of the defaults.
 */
// `outpost up` embeds Outpost's own broker whatever OUTPOST_TEST_BROKER says: on Mosquitto this
// run would repeat the default one. Mosquitto's own path through the same steps (enrol, converge
// over mqtts:// with a certificate) is covered by tls.test.ts and mosquitto-dynsec-agent.test.ts.
describe.skipIf(testBrokerKind() === 'mosquitto-dynsec')('README quick start', () => {
  let dir: TempDir;
  let up: ManagedProcess | undefined;
  let agent: ManagedProcess | undefined;
  const deviceId = `kiosk-${Math.random().toString(36).slice(2, 8)}`;
  dumpOnFailure((): Record<string, string> => ({ ...(up ? { up: up.output() } : {}), ...(agent ? { agent: agent.output() } : {}) }));

  afterAll(async () => {
    await agent?.stop();
    await up?.stop();
    await removeDeviceContainers(deviceId);
    await dir?.remove();
  });

  it('works as written, and outpost up stops its private Redis on SIGTERM', async () => {
    dir = await makeTempDir('quickstart');
    const [port, tlsPort, redisPort, apiPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    up = spawnProcess(process.execPath, {
      name: 'outpost up',
      args: [CLI, 'up', '--port', String(port), '--tls-port', String(tlsPort), '--redis-port', String(redisPort), '--api-port', String(apiPort)],
      env: { REDIS_URL: undefined, OUTPOST_SERVICE_PASSWORD: undefined, OUTPOST_ADMIN_TOKEN: undefined },
      cwd: dir.path,
    });
    await up.waitForLine(/outpost is up/, 30_000);
    const redisLine = await up.waitForLine(/embedded redis started/, 1_000);
    const redisPid = (JSON.parse(redisLine.replace(/^out\|/, '')) as { pid: number }).pid;

    // The CLI, as an operator runs it: from the same directory, token from ./.outpost/admin-token.
    const env = { PATH: process.env.PATH, OUTPOST_API: `http://127.0.0.1:${apiPort}` };
    const outpost = async (...args: string[]) => (await run(process.execPath, [CLI, ...args], { cwd: dir.path, env })).stdout;

    await outpost('device', 'add', deviceId, '--label', 'site=a', '--label', 'role=kiosk', '--cert-out', '.', '--ca-out', 'outpost-ca.pem', '--trust-out', 'outpost-signing.pub');
    // Over TLS with the certificate alone: no secret anywhere.
    agent = await startAgent({
      deviceId,
      brokerUrl: `mqtts://127.0.0.1:${tlsPort}`,
      secret: '',
      stateDir: join(dir.path, 'state'),
      extraArgs: ['--ca', join(dir.path, 'outpost-ca.pem'), '--cert', join(dir.path, `${deviceId}.pem`), '--key', join(dir.path, `${deviceId}-key.pem`)],
      trustFile: join(dir.path, 'outpost-signing.pub'),
      env: { OUTPOST_DEVICE_SECRET: undefined },
    });

    await writeFile(
      join(dir.path, 'kiosk.yaml'),
      [
        'app: kiosk',
        'version: 1.0.0',
        'services:',
        '  web:',
        `    image: ${TEST_IMAGE}`,
        '    command: ["sh", "-c", "echo ok > /tmp/index.html; exec httpd -f -p 8081 -h /tmp"]',
        '    environment: { GREETING: hello }',
        '    healthcheck: { test: ["CMD", "wget", "-q", "-O-", "http://127.0.0.1:8081/"], interval: 1s, retries: 3 }',
        '',
      ].join('\n'),
    );
    expect(await outpost('release', 'create', 'kiosk.yaml')).toMatch(/kiosk@1\.0\.0/);
    expect(await outpost('deploy', 'kiosk@1.0.0', '--to', 'role=kiosk')).toMatch(/targeted/i);
    await outpost('device', 'override', deviceId, '--workload', 'kiosk-web', 'GREETING=hello-site-a');

    const shown = await waitFor(
      async () => {
        const d = JSON.parse(await outpost('device', 'show', deviceId, '--json')) as { phase: string; inSync: boolean; appliedVersion: number };
        return d.phase === 'converged' && d.inSync ? d : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 1000, description: 'device show: converged and in sync' },
    );
    expect(shown.appliedVersion).toBe(2);
    const [web] = await deviceContainers(deviceId);
    expect(web?.state).toBe('running');
    expect(web?.env).toContain('GREETING=hello-site-a');
    expect(await outpost('status')).toMatch(/kiosk@1\.0\.0/);
    expect(await outpost('device', 'show', deviceId)).toMatch(/converged/);

    up.kill('SIGTERM');
    const exit = await up.waitForExit(30_000);
    expect(exit.code).toBe(0);
    expect(up.output()).toMatch(/embedded redis stopped/);
    expect(() => process.kill(redisPid, 0)).toThrow();
  });
});
