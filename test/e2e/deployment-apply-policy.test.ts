import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Docker from 'dockerode';
import { execIn, TAKE_UPDATE_LOCK } from '../helpers/container-exec.js';
import { deviceContainers } from '../helpers/device-containers.js';
import { runCli } from '../helpers/cli-run.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { startFleetRig, type FleetRig } from '../helpers/fleet-rig.js';
import { TEST_IMAGE, TEST_IMAGE_2, pushToRegistry } from '../helpers/images.js';
import { startRegistry, type RegistryServer } from '../helpers/registry.js';
import { waitFor } from '../helpers/wait-for.js';

const docker = new Docker();

/**
 * Issue 12, test 3 (first two parts): apply windows, `after` and `force`
 * set by an operator on deployments (DD-040), honoured by a real agent on
 * real Docker. The device downloads at once and replaces its container only
 * when the policy lets it.
 */
describe('deployment apply policy on a real device', () => {
  let registry: RegistryServer;
  let rig: FleetRig;
  let device: string;
  const app = 'winapp';
  dumpOnFailure(() => rig?.fleet.outputs() ?? {});

  beforeAll(async () => {
    registry = await startRegistry();
    rig = await startFleetRig({ prefix: 'win', count: 1, labels: () => ({ role: 'win' }), agentArgs: () => ['--lock-poll-ms', '500'] });
    device = rig.fleet.ids[0] ?? '';
    await rig.fleet.client.createRelease({ app, version: '1', workloads: { main: { image: TEST_IMAGE, stopTimeoutSeconds: 1 } } });
    await rig.fleet.client.createDeployment({ app, version: '1', target: { kind: 'selector', selector: 'role=win' } });
    await rig.fleet.converged(device, await desiredVersion());
  });

  afterAll(async () => {
    await rig?.close();
    await registry?.stop();
  });

  async function desiredVersion(): Promise<number> {
    const v = await rig.fleet.desiredVersion(device);
    if (v === null) throw new Error(`no desired version for ${device}`);
    return v;
  }
  const main = async () => {
    const c = (await deviceContainers(device)).find((w) => w.workload === `${app}-main`);
    if (!c) throw new Error(`${device} runs no ${app}-main`);
    return c;
  };
  const watch = () => {
    const w = rig.fleet.watches[device];
    if (!w) throw new Error(`no watch for ${device}`);
    return w;
  };
  /** A release whose image is only in the registry, so the device must download it. */
  async function registryRelease(version: string): Promise<string> {
    const digest = await pushToRegistry(TEST_IMAGE_2, registry.host, `windowed/${app}`, version);
    const image = `${registry.host}/windowed/${app}@${digest}`;
    await rig.fleet.client.createRelease({ app, version, workloads: { main: { image, stopTimeoutSeconds: 1, env: { V: version } } } });
    return image;
  }

  it('outside its window the device downloads and waits; a deployment that opens the window (after, a few seconds ahead) lets it apply then', async () => {
    const image = await registryRelease('2');
    const before = await main();
    const applied = await desiredVersion();
    // A daily window that starts 12 hours from now: certainly closed while this test runs.
    const start = new Date(Date.now() + 12 * 3600_000);
    const window = { cron: `${start.getUTCMinutes()} ${start.getUTCHours()} * * *`, durationMinutes: 30, timezone: 'UTC' };
    await rig.fleet.client.createDeployment({ app, version: '2', target: { kind: 'selector', selector: 'role=win' }, apply: { window } });
    const closed = await desiredVersion();
    expect(closed).toBeGreaterThan(applied);

    const waiting = await watch().waitForReport((r) => r.phase === 'deferred' && r.deferred?.version === closed, 60_000, 'deferred until the window');
    expect(waiting.deferred).toMatchObject({ reason: 'window' });
    expect(Math.abs(Date.parse(waiting.deferred?.until ?? '') - start.getTime())).toBeLessThan(60_000);
    expect(waiting.desired.appliedVersion).toBe(applied);
    expect(await docker.getImage(image).inspect()).toBeTruthy();
    expect((await main()).id).toBe(before.id);
    // `device show` tells the operator the policy and why the device waits (once the controller has the report).
    const show = await waitFor(
      async () => {
        const out = (await runCli(['device', 'show', device], { url: rig.url, token: rig.rig.adminToken })).stdout;
        return out.includes('Waiting') ? out : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, description: 'device show says the device waits' },
    );
    const lines = show.split('\n').map((l) => l.replace(/\s+/g, ' ').trim());
    expect(lines).toContain(`Apply in window "${window.cron}" for 30 min (UTC)`);
    expect(lines).toContain(`Waiting v${closed} downloaded, waits for its window, until ${waiting.deferred?.until}`);

    // The operator opens it: a newer deployment of the same release, to apply a few seconds from now.
    const after = new Date(Date.now() + 10_000);
    await rig.fleet.client.createDeployment({ app, version: '2', target: { kind: 'selector', selector: 'role=win' }, apply: { after: after.toISOString() } });
    const opened = await desiredVersion();
    expect(opened).toBeGreaterThan(closed);
    const soon = await watch().waitForReport((r) => r.phase === 'deferred' && r.deferred?.version === opened, 60_000, 'deferred until after');
    expect(soon.deferred).toMatchObject({ reason: 'window', until: after.toISOString() });
    // What ran when the agent said it waits: the old container (not looked up now: the time may have come on a slow machine).
    expect(before.id.startsWith(soon.workloads[`${app}-main`]?.containerId ?? '-')).toBe(true);

    const done = await watch().waitForReport((r) => r.phase === 'converged' && r.desired.appliedVersion === opened, 60_000, `converged at v${opened}`);
    expect(Date.parse(done.reportedAt)).toBeGreaterThanOrEqual(after.getTime());
    const now = await main();
    expect(now.id).not.toBe(before.id);
    expect(now.image).toBe(image);
  });

  it('a window that opens while the device waits: the update is applied inside it, with no further change', async () => {
    const image = await registryRelease('4');
    const before = await main();
    // A window from the next whole minute at least 40 s away: closed while the device downloads, open within ~100 s.
    const start = Math.ceil((Date.now() + 40_000) / 60_000) * 60_000;
    const at = new Date(start);
    const window = { cron: `${at.getUTCMinutes()} ${at.getUTCHours()} * * *`, durationMinutes: 2, timezone: 'UTC' };
    await rig.fleet.client.createDeployment({ app, version: '4', target: { kind: 'selector', selector: 'role=win' }, apply: { window } });
    const version = await desiredVersion();

    const waiting = await watch().waitForReport((r) => r.phase === 'deferred' && r.deferred?.version === version, 60_000, 'deferred until the window opens');
    expect(waiting.deferred?.reason).toBe('window');
    expect(Date.parse(waiting.deferred?.until ?? '')).toBe(start);
    expect(await docker.getImage(image).inspect()).toBeTruthy();
    expect((await main()).id).toBe(before.id);

    const done = await watch().waitForReport((r) => r.phase === 'converged' && r.desired.appliedVersion === version, 150_000, `converged at v${version} in its window`);
    expect(Date.parse(done.reportedAt)).toBeGreaterThanOrEqual(start);
    expect(Date.parse(done.reportedAt)).toBeLessThan(start + 2 * 60_000);
    expect((await main()).image).toBe(image);
  }, 240_000);

  it('a lock held by the workload defers a deployment; the same change with force replaces the container over the lock', async () => {
    await rig.fleet.client.createRelease({ app, version: '3', workloads: { main: { image: TEST_IMAGE, stopTimeoutSeconds: 1, env: { V: '3' } } } });
    const held = await main();
    await execIn(held.id, TAKE_UPDATE_LOCK);

    await rig.fleet.client.createDeployment({ app, version: '3', target: { kind: 'selector', selector: 'role=win' } });
    const locked = await desiredVersion();
    const deferred = await watch().waitForReport((r) => r.phase === 'deferred' && r.deferred?.version === locked, 60_000, 'deferred: locked');
    expect(deferred.deferred).toMatchObject({ reason: 'locked', workloads: [`${app}-main`] });
    expect((await main()).id).toBe(held.id);

    await rig.fleet.client.createDeployment({ app, version: '3', target: { kind: 'selector', selector: 'role=win' }, apply: { force: true } });
    const forced = await desiredVersion();
    expect(forced).toBeGreaterThan(locked);
    expect((await rig.fleet.client.desiredOf(device)).desired?.force).toBe(true);
    await rig.fleet.converged(device, forced);
    const replaced = await main();
    expect(replaced.id).not.toBe(held.id);
    expect(replaced.env).toContain('V=3');
  });
});
