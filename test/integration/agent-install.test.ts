import { execFile } from 'node:child_process';
import { copyFile, readFile, stat, writeFile } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/agent-process.js';
import { startAedesFixture, type BrokerFixture } from '../helpers/brokers.js';
import { createDeviceRig, type DeviceRig } from '../helpers/device-rig.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { TEST_IMAGE } from '../helpers/images.js';
import { spawnProcess, type ManagedProcess } from '../helpers/process.js';
import { execStartWords, unitValues } from '../helpers/systemd-unit.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { connectTestController, type TestController } from '../helpers/test-controller.js';

const run = promisify(execFile);
/** Written by `npm run build` (scripts/bundle-agent.ts). */
const STANDALONE = join(CLI, '..', '..', 'outpost-agent', 'outpost-agent.js');
const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

/**
 * Issue 12, test 4: `outpost agent install` into a temporary root writes a
 * unit and a config file; the unit's ExecStart, run as it stands, starts an
 * agent that connects and converges. The program installed is the standalone
 * bundle, copied alone into a directory with no node_modules above it.
 */
describe('outpost agent install', () => {
  let broker: BrokerFixture;
  let controller: TestController;
  let rig: DeviceRig;
  let work: TempDir;
  let agent: ManagedProcess | undefined;
  dumpOnFailure((): Record<string, string> => (agent ? { agent: agent.output() } : {}));

  beforeAll(async () => {
    broker = await startAedesFixture();
    controller = await connectTestController(broker.url, broker.serviceAuth);
    rig = await createDeviceRig(broker, controller, 'install');
    work = await makeTempDir('install');
  });

  afterAll(async () => {
    await agent?.stop();
    await rig?.dispose();
    await controller?.close();
    await broker?.stop();
    await work?.remove();
  });

  it('the unit it writes runs the standalone agent, which connects and converges', async () => {
    const bin = join(work.path, 'bin');
    const root = join(work.path, 'root');
    await run('mkdir', ['-p', bin]);
    await copyFile(STANDALONE, join(bin, 'outpost-agent.js'));
    const source = join(work.path, 'given.secret');
    await writeFile(source, `${rig.secret}\n`, { mode: 0o600 });
    const installed = await run(
      process.execPath,
      [
        join(bin, 'outpost-agent.js'), 'agent', 'install', '--device', rig.deviceId, '--broker', broker.url, '--secret-file', source,
        '--accept-unsigned', '--root', root, '--settle-ms', '300', '--reconnect-base-ms', '200', '--resync-interval', '5', '--log-level', 'debug',
      ],
      { cwd: bin, env: { PATH: process.env.PATH } },
    );
    const unitPath = join(root, 'etc/systemd/system/outpost-agent.service');
    const configPath = join(root, 'etc/outpost/agent.yaml');
    const secretPath = join(root, 'etc/outpost/device.secret');
    expect(installed.stdout).toContain(`created   ${unitPath} (unit, mode 0644)`);
    expect(installed.stdout).toContain(`created   ${secretPath} (secret, mode 0600)`);
    expect(installed.stdout).toContain('systemctl enable --now outpost-agent.service');
    expect(installed.stdout + installed.stderr).not.toContain(rig.secret);
    expect(await mode(secretPath)).toBe(0o600);
    expect(await mode(configPath)).toBe(0o644);
    expect(await mode(join(root, 'var/lib/outpost'))).toBe(0o700);
    expect((await readFile(secretPath, 'utf8')).trim()).toBe(rig.secret);

    const unit = await readFile(unitPath, 'utf8');
    expect(unitValues(unit, 'Restart')).toEqual(['always']);
    expect(unitValues(unit, 'After')).toEqual(['network-online.target docker.service']);
    expect(unitValues(unit, 'Wants')).toEqual(['network-online.target']);
    const config = await readFile(configPath, 'utf8');
    expect(config).toContain(`secret-file: ${secretPath}`);
    expect(config).toContain(`state-dir: ${join(root, 'var/lib/outpost')}`);
    expect(config).toContain('settle-ms: 300');

    // ExecStart as it stands: absolute node, the copied bundle, the config file inside the root.
    const words = execStartWords(unit);
    expect(words).toEqual([process.execPath, realpathSync(join(bin, 'outpost-agent.js')), 'agent', '--config', configPath]);
    const [command, ...args] = words as [string, ...string[]];
    agent = spawnProcess(command, { args, cwd: '/', inheritEnv: false, env: { PATH: process.env.PATH }, name: 'installed agent', bufferLines: 400 });
    await agent.waitForLine(/"msg":"agent started"/, 30_000);
    await rig.publish(1, { web: { image: TEST_IMAGE } });
    const report = await rig.converged(1);
    expect(report.workloads?.web ?? report).toBeTruthy();
    expect(agent.output()).not.toContain(rig.secret);
  });

  it('runs again without change, refuses another secret without --force (writing nothing), and replaces it with --force', async () => {
    const root = join(work.path, 'root-cli');
    const secretA = join(work.path, 'a.secret');
    const secretB = join(work.path, 'b.secret');
    await writeFile(secretA, 'first-secret-value\n', { mode: 0o600 });
    await writeFile(secretB, 'second-secret-value\n', { mode: 0o600 });
    const install = (secret: string, ...extra: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
      run(process.execPath, [CLI, 'agent', 'install', '--device-id', 'kiosk-z', '--broker', 'mqtt://127.0.0.1:1883', '--secret-file', secret, '--accept-unsigned', '--root', root, ...extra], {
        env: { PATH: process.env.PATH },
      }).then(
        (r) => ({ code: 0, ...r }),
        (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
      );
    const first = await install(secretA, '--keepalive', '30');
    expect(first.code, first.stderr).toBe(0);
    const unit = await readFile(join(root, 'etc/systemd/system/outpost-agent.service'), 'utf8');
    expect(execStartWords(unit).slice(0, 2)).toEqual([process.execPath, realpathSync(CLI)]);

    const again = await install(secretA, '--keepalive', '30');
    expect(again.stdout.split('\n').filter((l) => l.startsWith('unchanged'))).toHaveLength(3);

    const changed = await install(secretB, '--keepalive', '45');
    expect(changed.code).toBe(2);
    expect(changed.stderr).toMatch(/device\.secret holds a different device secret; nothing was written\. Pass --force/);
    expect(changed.stderr).not.toContain('second-secret-value');
    expect(await readFile(join(root, 'etc/outpost/agent.yaml'), 'utf8')).toContain('keepalive: 30');

    const forced = await install(secretB, '--keepalive', '45', '--force');
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(/^updated +\S+device\.secret \(secret, mode 0600\)$/m);
    expect((await readFile(join(root, 'etc/outpost/device.secret'), 'utf8')).trim()).toBe('second-secret-value');
    expect(await readFile(join(root, 'etc/outpost/agent.yaml'), 'utf8')).toContain('keepalive: 45');
  });

  it('refuses settings the agent would refuse, before writing anything', async () => {
    const root = join(work.path, 'root-bad');
    const installer = spawnProcess(process.execPath, {
      args: [CLI, 'agent', 'install', '--device', 'kiosk-y', '--broker', 'mqtt://10.1.2.3:1883', '--secret-stdin', '--accept-unsigned', '--root', root],
      name: 'install',
      stdin: 'a-fine-secret\n',
    });
    const exit = await installer.waitForExit(60_000);
    expect(exit.code).toBe(2);
    expect(installer.output()).toMatch(/outpost agent install: invalid agent configuration: refusing mqtt:\/\/ to 10\.1\.2\.3/);
    expect(installer.output()).not.toContain('a-fine-secret');
    await expect(stat(root)).rejects.toThrow(/ENOENT/);
  });
});
