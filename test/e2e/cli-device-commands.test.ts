import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, startAgent } from '../helpers/agent-process.js';
import { startApi, type ApiRig } from '../helpers/api.js';
import { runCliEnv } from '../helpers/cli-run.js';
import { removeDeviceContainers, waitFor } from '../helpers/docker.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { TEST_IMAGE } from '../helpers/images.js';
import { spawnProcess, type ManagedProcess } from '../helpers/process.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

/**
 * `outpost logs` on an empty log, `outpost logs --follow`, and `outpost restart` of a workload whose PID 1
 * ignores SIGTERM, through the real API, controller, agent and Docker (issue 12).
 */
describe('outpost logs --follow and restart', () => {
  let api: ApiRig;
  let url: string;
  let dir: TempDir;
  let agent: ManagedProcess | undefined;
  let follower: ManagedProcess | undefined;
  const deviceId = `logf-${Math.random().toString(36).slice(2, 7)}`;

  dumpOnFailure(() => ({ ...(agent ? { [agent.name]: agent.output() } : {}), ...(follower ? { follower: follower.output() } : {}) }));

  beforeAll(async () => {
    api = await startApi();
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    const address = api.app.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    dir = await makeTempDir('cli-device-commands');
    const cp = api.rig.controller.controlPlane;
    const { secret } = await cp.addDevice({ id: deviceId });
    await cp.createRelease({
      app: 'app',
      version: '1',
      workloads: {
        // One line every 0.3 s: several per poll, so the overlap logic is exercised.
        ticker: { image: TEST_IMAGE, command: ['sh', '-c', "trap 'exit 0' TERM; i=0; while true; do i=$((i+1)); echo line-$i; sleep 0.3; done"], stopTimeoutSeconds: 2 },
        quiet: { image: TEST_IMAGE, command: ['sh', '-c', "trap 'exit 0' TERM; while true; do sleep 1; done"], stopTimeoutSeconds: 2 },
        // PID 1 ignores SIGTERM: a restart waits out the whole grace period, longer than the CLI's old 10 s.
        stubborn: { image: TEST_IMAGE, command: ['sh', '-c', "trap '' TERM; while true; do sleep 1; done"], stopTimeoutSeconds: 14 },
      },
    });
    await cp.createDeployment({ app: 'app', version: '1', target: { kind: 'devices', devices: [deviceId] } });
    agent = await startAgent({ deviceId, brokerUrl: api.rig.brokerUrl, secret, stateDir: dir.path });
    await waitFor(
      async () => {
        const s = await cp.statusOf(deviceId);
        return s.online && s.reported?.phase === 'converged' && s.reported.desired.appliedVersion === 1;
      },
      { timeoutMs: 90_000, description: 'device converged at v1' },
    );
  }, 120_000);

  afterAll(async () => {
    await follower?.stop();
    await agent?.stop();
    await api?.close();
    await removeDeviceContainers(deviceId);
    await dir?.remove();
  });

  const env = (): Record<string, string> => ({ OUTPOST_API: url, OUTPOST_TOKEN: api.token });

  it('an empty log says so on stderr instead of printing nothing', async () => {
    const r = await runCliEnv(['logs', deviceId, 'app-quiet'], env());
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`(no log lines: the log of app-quiet on ${deviceId} is empty)\n`);
  });

  it('--follow prints each new line once, in order, until Ctrl-C', async () => {
    follower = spawnProcess(process.execPath, { args: [CLI, 'logs', deviceId, 'app-ticker', '--follow', '--interval', '1', '--tail', '3'], env: env(), name: 'follow' });
    // Enough polls for lines to be both old (overlap) and new.
    const numbers = (): number[] =>
      follower!
        .output()
        .split('\n')
        .map((l) => /^out\|line-(\d+)$/.exec(l)?.[1])
        .filter((n): n is string => n !== undefined)
        .map(Number);
    await waitFor(() => numbers().length >= 20, { timeoutMs: 60_000, description: '20 lines followed' });
    follower.kill('SIGINT');
    const exit = await follower.waitForExit(10_000);
    expect(exit.code).toBe(0);
    const seen = numbers();
    // At most 3 lines from before the start, then every line exactly once, consecutive.
    expect(seen).toEqual(seen.map((_, i) => (seen[0] ?? 0) + i));
    expect(follower.output()).not.toMatch(/some lines may be missing/);
  });

  it('--follow ends with the coded error for an unknown workload', async () => {
    const r = await runCliEnv(['logs', deviceId, 'app-nope', '--follow'], env());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^outpost: .*app-nope.*\([A-Z_]+\)\n$|^outpost: .*has no .*\([A-Z_]+\)\n$/);
    expect(r.stdout).toBe('');
  });

  it('restart of a workload that ignores SIGTERM shows the online device\'s answer, not "queued"', async () => {
    const r = await runCliEnv(['restart', deviceId, 'app-stubborn'], env());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Restarted app-stubborn on ${deviceId} \\(container [0-9a-f]+, started `));
  }, 60_000);
});
