import { afterAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { CLI } from '../helpers/agent-process.js';
import { testBrokerKind } from '../helpers/broker-mode.js';
import { cleanCopyOfWorkingTree, gitStatus } from '../helpers/clean-clone.js';
import { deviceContainers } from '../helpers/device-containers.js';
import { removeDeviceContainers, waitFor } from '../helpers/docker.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { freePort } from '../helpers/free-port.js';
import { TEST_IMAGE } from '../helpers/images.js';
import { spawnProcess, type ManagedProcess } from '../helpers/process.js';
import { codeBlocks, markdownSection, readReadme, shellCommands } from '../helpers/readme.js';
import { canConnect } from '../helpers/tcp-probe.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

const run = promisify(execFile);
const REPO_ROOT = resolve(dirname(CLI), '..', '..');
/** The README's device; its containers carry this id, so the test clears them before and after. */
const README_DEVICE = 'kiosk-a';

/**
 * The README as a newcomer follows it, on one machine: a clean copy of the
 * repository, the set-up commands (`npm ci`, `npm start` with the README's
 * "ports taken?" flags on random ports), then every command of the quick
 * start section in order, read from the README itself — only the image
 * (no public registry here), the ports and the agent's state directory are
 * substituted. Proves no engine warnings, no rewritten lockfile or stray
 * files, no port clash between the example workload and the API, and a
 * device that converges with the site override.
 */
// `outpost up` embeds Outpost's own broker whatever OUTPOST_TEST_BROKER says: on Mosquitto this
// run would repeat the default one. Mosquitto's own path through the same steps (enrol, converge
// over mqtts:// with a certificate) is covered by tls.test.ts and mosquitto-dynsec-agent.test.ts.
describe.skipIf(testBrokerKind() === 'mosquitto-dynsec')('README quick start, in a clean clone', () => {
  let tmp: TempDir;
  let up: ManagedProcess | undefined;
  let agent: ManagedProcess | undefined;
  const logs: Record<string, string> = {};
  dumpOnFailure((): Record<string, string> => ({ ...logs, ...(up ? { up: up.output() } : {}), ...(agent ? { agent: agent.output() } : {}) }));

  afterAll(async () => {
    await agent?.stop();
    await up?.stop();
    await removeDeviceContainers(README_DEVICE);
    await tmp?.remove();
  });

  it('npm ci, npm start and the quick start work as written', async () => {
    await removeDeviceContainers(README_DEVICE);
    const readme = await readReadme(join(REPO_ROOT, 'README.md'));
    const setup = markdownSection(readme, 'Set up');
    expect(codeBlocks(setup).filter((b) => b.lang === 'sh').flatMap(shellCommands)).toEqual(['npm ci', 'npm start', 'npm test']);

    tmp = await makeTempDir('quickstart');
    const clone = join(tmp.path, 'outpost');
    await mkdir(clone);
    await cleanCopyOfWorkingTree(REPO_ROOT, clone);

    // npm ci: accepts the lockfile as committed, and no dependency asks for a newer Node.
    const ci = await run('npm', ['ci', '--no-audit', '--no-fund'], { cwd: clone, maxBuffer: 16 * 1024 * 1024 });
    logs['npm ci'] = ci.stdout + ci.stderr;
    expect(logs['npm ci']).not.toMatch(/EBADENGINE|Unsupported engine/i);

    // npm start with the README's "ports taken?" flags, each on a free port.
    const portsTaken = /Ports taken\? `npm start -- ([^`]+)`/.exec(setup);
    expect(portsTaken, 'README: the "Ports taken?" line').not.toBeNull();
    const ports = new Map<string, number>();
    const startArgs: string[] = [];
    for (const [, flag] of portsTaken![1]!.matchAll(/(--[a-z-]+) \d+/g)) {
      ports.set(flag!, await freePort());
      startArgs.push(flag!, String(ports.get(flag!)));
    }
    expect([...ports.keys()].sort()).toEqual(['--api-port', '--port', '--redis-port', '--tls-port']);
    const apiUrl = /the CLI then needs `OUTPOST_API=(http:\/\/127\.0\.0\.1:)\d+`/.exec(setup);
    expect(apiUrl, 'README: the OUTPOST_API line').not.toBeNull();
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      OUTPOST_API: `${apiUrl![1]}${ports.get('--api-port')}`,
    };

    up = spawnProcess('npm', {
      name: 'npm start',
      args: ['start', '--', ...startArgs],
      inheritEnv: false,
      env: { ...env, OUTPOST_API: undefined },
      cwd: clone,
      bufferLines: 2000,
      // npm does not pass a signal on to its script; Ctrl-C in a terminal reaches the whole group.
      processGroup: true,
    });
    await up.waitForLine(/outpost is up/, 300_000);
    const redisLine = await up.waitForLine(/embedded redis started/, 1_000);
    const redisPid = (JSON.parse(redisLine.replace(/^out\|/, '')) as { pid: number }).pid;
    // Building and starting left nothing git would see: lockfile untouched, dist/ and .outpost/ ignored.
    expect(await gitStatus(clone)).toBe('');

    // The quick start, block by block, in the same directory as `npm start` ("a second terminal").
    const quickStart = markdownSection(readme, 'Quick start');
    const cli = join(clone, 'dist', 'cli', 'main.js');
    const stateDir = join(tmp.path, 'agent-state');
    let workloadPort = 8081;
    const substitute = (line: string): string =>
      line
        .replace(/^outpost /, `node ${cli} `)
        .replace('mqtts://127.0.0.1:8883', `mqtts://127.0.0.1:${ports.get('--tls-port')}`)
        .replace('/var/lib/outpost', stateDir);
    const ran: string[] = [];
    for (const block of codeBlocks(quickStart)) {
      if (block.lang === 'yaml') {
        const file = /^# (\S+\.yaml)/.exec(block.body)?.[1];
        expect(file, 'the YAML block names its file in its first comment').toBeDefined();
        expect(block.body).toContain('busybox:1.36');
        // The example publishes 8081 (the API has 8080); should this machine have 8081 taken, another port shows the same.
        if (await canConnect(8081)) workloadPort = await freePort();
        await writeFile(join(clone, file!), block.body.replace('busybox:1.36', TEST_IMAGE).replaceAll('8081', String(workloadPort)));
        continue;
      }
      for (const command of shellCommands(block)) {
        expect(command).toMatch(/^outpost /);
        ran.push(command);
        if (command.startsWith('outpost agent ')) {
          agent = spawnProcess('bash', { name: 'agent', args: ['-c', `exec ${substitute(command)}`], cwd: clone, env, bufferLines: 1000 });
          continue;
        }
        const out = await run('bash', ['-c', substitute(command)], { cwd: clone, env, maxBuffer: 4 * 1024 * 1024 });
        logs[command] = out.stdout + out.stderr;
      }
    }
    expect(ran.map((c) => c.split(' ').slice(0, 3).join(' '))).toEqual([
      'outpost device add',
      'outpost agent --device',
      'outpost release create',
      'outpost deploy kiosk@1.0.0',
      'outpost device override',
      'outpost status',
      'outpost device show',
      'outpost deployment ls',
    ]);
    expect(logs['outpost release create kiosk.yaml']).toMatch(/kiosk@1\.0\.0/);

    const outpost = async (...args: string[]) => (await run(process.execPath, [cli, ...args], { cwd: clone, env })).stdout;
    const shown = await waitFor(
      async () => {
        const d = JSON.parse(await outpost('device', 'show', README_DEVICE, '--json')) as { phase: string; inSync: boolean; appliedVersion: number };
        return d.phase === 'converged' && d.inSync ? d : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 1000, description: 'device show: converged and in sync' },
    );
    expect(shown.appliedVersion).toBe(2);
    const [web] = await deviceContainers(README_DEVICE);
    expect(web?.state).toBe('running');
    expect(web?.env).toContain('GREETING=hello-site-a');
    // The example workload answers on its published port, beside the API on its own.
    const page = await waitFor(
      async () => {
        try {
          const res = await fetch(`http://127.0.0.1:${workloadPort}/`);
          return res.ok ? await res.text() : undefined;
        } catch {
          return undefined;
        }
      },
      { timeoutMs: 30_000, intervalMs: 500, description: `the example workload on :${workloadPort}` },
    );
    expect(page.trim()).toBe('ok');
    expect(await outpost('status')).toMatch(/kiosk@1\.0\.0/);

    // Ctrl-C on `npm start` stops the control plane and its private Redis.
    await agent?.stop();
    up.kill('SIGINT');
    const exit = await up.waitForExit(60_000);
    expect(exit.code === 0 || exit.code === 130 || exit.signal === 'SIGINT', `npm start exit: ${JSON.stringify(exit)}`).toBe(true);
    await waitFor(
      () => {
        try {
          process.kill(redisPid, 0);
          return undefined;
        } catch {
          return true;
        }
      },
      { timeoutMs: 30_000, intervalMs: 200, description: 'the embedded redis-server has exited' },
    );
    // npm itself exits on the signal at once; `outpost up` (its child, same group) finishes its shutdown
    // and its last lines still arrive through the pipe they share.
    await waitFor(() => /embedded redis stopped/.test(up!.output()), { timeoutMs: 30_000, intervalMs: 200, description: 'outpost up stopped its Redis' });
  }, 600_000);
});
