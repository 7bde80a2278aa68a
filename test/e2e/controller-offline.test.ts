import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../controller/http/build-api.js';
import { silentLogger } from '../../shared/logger.js';
import { CLI } from '../helpers/agent-process.js';
import { startAgent } from '../helpers/agent-process.js';
import { startControlPlane, type ControlPlaneRig } from '../helpers/control-plane.js';
import { containerCreates, deviceContainers, expectedHash } from '../helpers/device-containers.js';
import { removeDeviceContainers, waitFor } from '../helpers/docker.js';
import { TEST_IMAGE, TEST_IMAGE_2 } from '../helpers/images.js';
import type { ManagedProcess } from '../helpers/process.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';

/** The offline promise through the controller: deploy 2 then 3 while the device is away; it comes back on 3 by itself. */
describe('offline device, operator deploys twice', () => {
  let rig: ControlPlaneRig;
  let api: FastifyInstance;
  let apiUrl: string;
  let dir: TempDir;
  let agent: ManagedProcess | undefined;
  const id = `van-${Math.random().toString(36).slice(2, 7)}`;
  dumpOnFailure((): Record<string, string> => (agent ? { [agent.name]: agent.output() } : {}));

  beforeAll(async () => {
    rig = await startControlPlane();
    api = await buildApi(rig.controller.controlPlane, { adminTokens: [rig.adminToken], logger: silentLogger() });
    await api.listen({ host: '127.0.0.1', port: 0 });
    apiUrl = `http://127.0.0.1:${(api.server.address() as { port: number }).port}`;
    dir = await makeTempDir('offline');
  });

  afterAll(async () => {
    await agent?.stop();
    await api?.close();
    await rig?.close();
    await removeDeviceContainers(id);
    await dir?.remove();
  });

  it('converges to release 3 with no manual step, and the controller says so', async () => {
    const cp = rig.controller.controlPlane;
    const { secret } = await cp.addDevice({ id, labels: { fleet: 'vans' } });
    for (const [version, image] of [['1', TEST_IMAGE], ['2', TEST_IMAGE_2], ['3', TEST_IMAGE]] as const) {
      await cp.createRelease({ app: 'nav', version, workloads: { map: { image, env: { RELEASE: version } } } });
    }
    await cp.createDeployment({ app: 'nav', version: '1', target: { kind: 'selector', selector: 'fleet=vans' } });
    agent = await startAgent({ deviceId: id, brokerUrl: rig.brokerUrl, secret, stateDir: dir.path });
    await waitFor(async () => (await cp.getDevice(id)).phase === 'converged', { timeoutMs: 60_000, description: 'v1 converged' });

    await agent.stop();
    agent = undefined;
    await waitFor(async () => !(await cp.getDevice(id)).online, { timeoutMs: 10_000, description: 'controller sees the device offline' });
    const since = Date.now() / 1000;
    await cp.createDeployment({ app: 'nav', version: '2', target: { kind: 'selector', selector: 'fleet=vans' } });
    await cp.createDeployment({ app: 'nav', version: '3', target: { kind: 'selector', selector: 'fleet=vans' } });
    const pending = await cp.getDevice(id);
    expect(pending).toMatchObject({ desiredVersion: 3, appliedVersion: 1, inSync: false, online: false });

    agent = await startAgent({ deviceId: id, brokerUrl: rig.brokerUrl, secret, stateDir: dir.path });
    const detail = await waitFor(
      async () => {
        const d = await cp.getDevice(id);
        return d.inSync && d.phase === 'converged' && d.online ? d : undefined;
      },
      { timeoutMs: 60_000, description: 'converged on the newest version' },
    );
    expect(detail.appliedVersion).toBe(3);
    expect(detail.apps).toEqual([expect.objectContaining({ app: 'nav', version: '3' })]);
    const cs = await deviceContainers(id);
    expect(cs.map((c) => [c.workload, c.state])).toEqual([['nav-map', 'running']]);
    expect(cs[0]?.env).toContain('RELEASE=3');
    // Release 2 never ran.
    const creates = await containerCreates(id, since);
    expect(creates.map((c) => c.specHash)).toEqual([expectedHash({ image: TEST_IMAGE, env: { RELEASE: '3' } })]);

    // And the operator sees it: `outpost device show`.
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'device', 'show', id, '--json'], {
      env: { PATH: process.env.PATH, OUTPOST_API: apiUrl, OUTPOST_TOKEN: rig.adminToken },
    });
    const shown = JSON.parse(stdout) as { appliedVersion: number; desiredVersion: number; inSync: boolean; phase: string; apps: { version: string }[] };
    expect(shown).toMatchObject({ appliedVersion: 3, desiredVersion: 3, inSync: true, phase: 'converged' });
    expect(shown.apps[0]?.version).toBe('3');
    const human = await promisify(execFile)(process.execPath, [CLI, 'device', 'show', id], {
      env: { PATH: process.env.PATH, OUTPOST_API: apiUrl, OUTPOST_TOKEN: rig.adminToken },
    });
    expect(human.stdout).toMatch(/converged/);
    expect(human.stdout).toMatch(/nav@3|nav\s+3/);
  });
});
