import Docker from 'dockerode';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceWorkloadName } from '../../controller/model/names.js';
import { runCli } from '../helpers/cli-run.js';
import { deviceContainers } from '../helpers/device-containers.js';
import { removeDeviceContainers } from '../helpers/docker.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { startFleetRig, type FleetRig } from '../helpers/fleet-rig.js';
import { ensureTestImage, pushToRegistry } from '../helpers/images.js';
import { captureLogs } from '../helpers/log-capture.js';
import { keysHolding } from '../helpers/redis-scan.js';
import { testBrokerKind } from '../helpers/broker-mode.js';
import { ensureStoreKeyFile } from '../../broker/persistence/store-key.js';
import { openRetained, plantClearValue } from '../helpers/sealed-store.js';
import { startRegistry, type RegistryServer } from '../helpers/registry.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';

const docker = new Docker();
const USER = 'edge-puller';
const PASSWORD = 'Stored-by-registry-login-9f3c';
const ROTATED = 'Rotated-without-redeploy-71ab';

/**
 * Issue 12, test 3 (private registry): credentials stored with the real
 * `outpost registry-login`, a real agent pulling from a real registry with
 * htpasswd auth through real Docker; then the password rotated at the
 * registry and with registry-login again, and a later pull with the new one,
 * without a redeploy.
 */
describe('private registry credentials from registry-login', () => {
  let dir: TempDir;
  let registry: RegistryServer;
  let rig: FleetRig;
  const captured = captureLogs();
  const source = `outpost-test/regcred-${Math.random().toString(36).slice(2, 8)}:1`;
  let image = '';
  dumpOnFailure((): Record<string, string> => ({ ...(rig?.fleet.outputs() ?? {}), controller: captured.logs.slice(-80).map((l) => JSON.stringify(l)).join('\n') }));

  const api = () => ({ url: rig.url, token: rig.rig.adminToken });
  const device = (): string => rig.fleet.ids[0] as string;
  const report = (predicate: Parameters<FleetRig['fleet']['watches'][string]['waitForReport']>[0], what: string) =>
    rig.fleet.watches[device()]?.waitForReport(predicate, 90_000, what) ?? Promise.reject(new Error('no watch'));

  /** Events may trail the report that says converged: wait for the pull's event among those after `from`. */
  const pulled = (from: number) =>
    waitFor(() => rig.fleet.watches[device()]?.events.slice(from).some((e) => e.type === 'step.succeeded' && e.data.step === 'pull') || undefined, {
      timeoutMs: 30_000,
      description: 'a pull step succeeded',
    });

  beforeAll(async () => {
    dir = await makeTempDir('regcred-e2e');
    registry = await startRegistry({ htpasswd: { user: USER, password: PASSWORD } });
    // DD-047: the broker seals the documents it stores; with Mosquitto (its own file, not Redis) the key is unused.
    await ensureStoreKeyFile(join(dir.path, 'broker-store.key'));
    rig = await startFleetRig({
      brokerStoreKeyFile: join(dir.path, 'broker-store.key'),
      prefix: 'regcred',
      count: 1,
      // Every step as its own event: the pulls are asserted one by one.
      agentArgs: () => ['--event-detail', 'steps'],
      controller: { registryCredentialsKeyFile: join(dir.path, 'registry-credentials.key'), rolloutPollSeconds: 0.5 },
      logger: captured.logger,
    });
    // Content of its own, and no local copy: only a pull from the private registry can bring it.
    await ensureTestImage(source, { label: source.split(/[/:]/)[1] ?? 'regcred' });
    const digest = await pushToRegistry(source, registry.host, 'private/regcred', '1', { username: USER, password: PASSWORD });
    await docker.getImage(source).remove({ noprune: true });
    image = `${registry.host}/private/regcred@${digest}`;
  });

  afterAll(async () => {
    await rig?.close();
    await registry?.stop();
    for (const ref of [image, source]) if (ref) await docker.getImage(ref).remove({ force: true }).catch(() => undefined);
    await dir?.remove();
  });

  it('pulls with credentials stored by registry-login; rotated, a later pull uses the new password without a redeploy; the password is in no log, report or Redis value in clear', async () => {
    const login = await runCli(['registry-login', registry.host, '--username', USER, '--password-stdin'], api(), { input: `${PASSWORD}\n` });
    expect(login.stderr).toBe('');
    expect(login.code).toBe(0);

    const { client } = rig.fleet;
    await client.createRelease({ app: 'regcred', version: '1', workloads: { web: { image, stopTimeoutSeconds: 1 } } });
    await client.createDeployment({ app: 'regcred', version: '1', target: { kind: 'devices', devices: [device()] } });
    const v1 = (await rig.fleet.desiredVersion(device())) ?? 0;
    const first = await report((r) => r.phase === 'converged' && r.desired.appliedVersion === v1, 'converged on the private image');
    expect(first.workloads[deviceWorkloadName('regcred', 'web')]?.imageDigest).toBe(image);
    await pulled(0);

    // Rotation: the registry takes only the new password from now on; the operator logs in again. No deployment changes.
    await registry.setHtpasswd({ user: USER, password: ROTATED });
    const rotated = await runCli(['registry-login', registry.host, '--username', USER, '--password-stdin'], api(), { input: ROTATED });
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toMatch(/1 desired document re-published/);
    const v2 = (await rig.fleet.desiredVersion(device())) ?? 0;
    expect(v2).toBe(v1 + 1);
    await report((r) => r.phase === 'converged' && r.desired.appliedVersion === v2, 'converged on the rotated document (nothing to pull)');

    // A later pull: the device loses container and image while its agent is down, and must pull again with what it holds now.
    await rig.fleet.stopAgent(device());
    await removeDeviceContainers(device());
    await docker.getImage(image).remove({ noprune: true });
    const eventsBefore = rig.fleet.watches[device()]?.events.length ?? 0;
    await rig.fleet.startAgent(device());
    await report(
      (r) => r.phase === 'converged' && r.desired.appliedVersion === v2 && r.workloads[deviceWorkloadName('regcred', 'web')]?.state === 'running' && r.agent.startedAt !== first.agent.startedAt,
      'converged again after a pull with the rotated password',
    );
    await pulled(eventsBefore);
    expect((await deviceContainers(device())).map((c) => [c.image, c.state])).toEqual([[image, 'running']]);
    expect((await client.desiredOf(device())).desired?.version).toBe(v2);

    for (const secret of [PASSWORD, ROTATED]) {
      expect(JSON.stringify(captured.logs), 'controller log').not.toContain(secret);
      for (const [name, output] of Object.entries(rig.fleet.outputs())) expect(output, name).not.toContain(secret);
      expect(JSON.stringify(rig.fleet.watches[device()]?.reports), 'reports').not.toContain(secret);
      expect(JSON.stringify(rig.fleet.watches[device()]?.events), 'events').not.toContain(secret);
      expect(JSON.stringify(await client.desiredOf(device())), 'API desired view').not.toContain(secret);
      // The controller's records hold it sealed (DD-041), the broker's stored documents too (DD-047): no key holds it in clear.
      expect(await keysHolding(rig.rig.redis.url, secret), 'Redis keys in clear').toEqual([]);
    }
    // Not blind: the scan finds the password where it is in clear…
    const remove = await plantClearValue(rig.rig.redis.url, 'test:clear:regcred-probe', ROTATED);
    expect(await keysHolding(rig.rig.redis.url, ROTATED)).toEqual(['test:clear:regcred-probe']);
    await remove();
    if (testBrokerKind() === 'outpost') {
      // …and Outpost's broker holds the current document, sealed: opened with its key it carries the rotated
      // password, and the first one no more (the rotation replaced the retained copy).
      const docs = Object.values(await openRetained(rig.rig.redis.url, join(dir.path, 'broker-store.key')));
      expect(docs.some((doc) => doc.includes(ROTATED))).toBe(true);
      expect(docs.some((doc) => doc.includes(PASSWORD))).toBe(false);
    }
  });
});
