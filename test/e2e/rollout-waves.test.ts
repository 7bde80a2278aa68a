import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRollout, operateRollout } from '../../cli/client/rollout-client.js';
import { runCli } from '../helpers/cli-run.js';
import { deviceContainers } from '../helpers/device-containers.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { deployFirstRelease, startFleetRig, type FleetRig } from '../helpers/fleet-rig.js';
import { TEST_IMAGE_2 } from '../helpers/images.js';
import { assertWavesInOrder, RolloutFleet } from '../helpers/rollout-fleet.js';

/**
 * Rollouts with real agents and real Docker: a 3-wave rollout succeeds (CLI
 * create + watch), a release whose container exits at once trips the failure
 * threshold and pauses — or rolls back by itself — and the later waves never
 * receive it.
 */
describe('rollout waves end to end', () => {
  let ctx: FleetRig;
  let fleet: RolloutFleet;
  let cli: { url: string; token: string };
  const role = `wave-${Math.random().toString(36).slice(2, 7)}`;
  dumpOnFailure(() => ({ ...(fleet?.outputs() ?? {}) }));

  beforeAll(async () => {
    ctx = await startFleetRig({ prefix: 'wv', count: 3, labels: () => ({ role }) });
    fleet = ctx.fleet;
    cli = { url: ctx.url, token: ctx.rig.adminToken };
    await fleet.client.createRelease({ app: 'web', version: '3-bad', workloads: { main: { image: TEST_IMAGE_2, command: ['sh', '-c', 'exit 3'], restart: 'no' } } });
    await deployFirstRelease(fleet, { app: 'web', workload: 'main', role });
  });

  afterAll(async () => {
    await ctx?.close();
  });

  it('a 3-wave rollout succeeds: waves in order, every device on the new release, CLI watch exits 0', async () => {
    const id = `web-2-${role}`;
    const created = await runCli(
      ['rollout', 'create', '--app', 'web', '--to', '2', '--selector', `role=${role}`, '--waves', '1,2,100%', '--device-timeout', '2m', '--id', id],
      cli,
    );
    expect(created.stderr).toBe('');
    expect(created.stdout).toContain(`Created rollout ${id}: web@2 to 3 devices in 3 waves (1, 1, 1)`);
    const watched = await runCli(['rollout', 'watch', id, '--interval', '0.5'], cli);
    expect(watched.code, watched.stderr).toBe(0);
    expect(watched.stdout).toContain(`Rollout ${id} succeeded: 3 devices run web@2`);
    // Plain lines (not a terminal), one per change: the waves were seen passing one by one.
    expect(watched.stdout).toMatch(/w0 passed 1\/1 ok/);

    const r = await fleet.rollout(id);
    expect(r.phase).toBe('succeeded');
    expect(assertWavesInOrder(r)).toEqual([]);
    expect(r.waves.map((w) => w.outcome)).toEqual(['passed', 'passed', 'passed']);
    expect(r.devices.every((d) => d.status === 'succeeded' && d.version === 2)).toBe(true);
    for (const deviceId of fleet.ids) {
      await fleet.converged(deviceId, 2);
      expect(fleet.received(deviceId)).toEqual([1, 2]);
      expect((await deviceContainers(deviceId)).map((c) => [c.image, c.state])).toEqual([[TEST_IMAGE_2, 'running']]);
    }
    const shown = await runCli(['rollout', 'show', id, '--json'], cli);
    expect((JSON.parse(shown.stdout) as { rollout: { phase: string } }).rollout.phase).toBe('succeeded');
  });

  it('a release whose container exits at once trips the threshold and pauses; later waves never receive it', async () => {
    const before = Object.fromEntries(await Promise.all(fleet.ids.map(async (d) => [d, await deviceContainers(d)] as const)));
    const id = `web-bad-${role}`;
    await createRollout(fleet.client, { id, app: 'web', toVersion: '3-bad', target: { kind: 'selector', selector: `role=${role}` }, waves: { kind: 'sizes', sizes: [1, 2, '100%'] } });
    const paused = await fleet.waitForPhase(id, ['paused']);
    expect(paused.waves.map((w) => w.outcome)).toEqual(['failed', null, null]);
    expect(paused.reason).toMatch(/wave 0 failed: 1 of 1 devices failed/);
    const [bad] = paused.devices.filter((d) => d.wave === 0);
    expect(bad).toMatchObject({ status: 'failed', version: 3, reason: expect.stringMatching(/rolled-back/) });
    const later = paused.devices.filter((d) => d.wave > 0);
    expect(later.every((d) => d.status === 'pending' && d.version === null)).toBe(true);

    const watched = await runCli(['rollout', 'watch', id], cli);
    expect(watched.code).toBe(3);
    expect(watched.stdout).toContain(`Rollout ${id} is paused: wave 0 failed`);
    // Which device failed, and why, without a second command.
    expect(watched.stdout).toContain('Failed devices (1):');
    expect(watched.stdout).toMatch(new RegExp(`\\n  ${bad!.deviceId} \\(wave 0\\) failed: .*rolled-back`));

    // The agent rolled the failing device back by itself; it still runs release 2.
    await fleet.watches[bad!.deviceId]!.waitForReport((r) => r.phase === 'rolled-back' && r.rollback?.version === 3, 30_000);
    expect((await deviceContainers(bad!.deviceId)).map((c) => c.image)).toEqual([TEST_IMAGE_2]);
    for (const d of later) {
      expect(await fleet.desiredVersion(d.deviceId)).toBe(2);
      expect(fleet.received(d.deviceId)).toEqual([1, 2]);
      expect(await deviceContainers(d.deviceId)).toEqual(before[d.deviceId]);
    }

    // Rolled back by hand: the failed device returns to release 2 as a new, higher version.
    await operateRollout(fleet.client, id, 'rollback');
    await fleet.waitForPhase(id, ['rolled-back'], 30_000);
    expect(await fleet.desiredVersion(bad!.deviceId)).toBe(4);
    await fleet.converged(bad!.deviceId, 4);
    expect(fleet.received(bad!.deviceId)).toEqual([1, 2, 3, 4]);
    for (const d of later) expect(await fleet.desiredVersion(d.deviceId)).toBe(2);
  });

  it('with failureAction rollback, the failing wave is moved back by itself; the rest never receive the release', async () => {
    const id = `web-bad-rb-${role}`;
    await createRollout(fleet.client, {
      id,
      app: 'web',
      toVersion: '3-bad',
      target: { kind: 'selector', selector: `role=${role}` },
      waves: { kind: 'sizes', sizes: [1, '100%'] },
      failureAction: 'rollback',
    });
    const done = await fleet.waitForPhase(id, ['rolled-back']);
    expect(done.waves.map((w) => w.outcome)).toEqual(['failed', null]);
    const [bad] = done.devices.filter((d) => d.wave === 0);
    expect(bad).toMatchObject({ status: 'failed', version: 5 });
    // Same app, same device order: the same canary device again. Back on release 2, higher version.
    expect(await fleet.desiredVersion(bad!.deviceId)).toBe(6);
    await fleet.converged(bad!.deviceId, 6);
    expect(fleet.received(bad!.deviceId)).toEqual([1, 2, 3, 4, 5, 6]);
    const detail = await fleet.client.getDevice(bad!.deviceId);
    expect(detail.apps.map((a) => `${a.app}@${a.version}`)).toEqual(['web@2']);
    for (const d of done.devices.filter((x) => x.wave > 0)) {
      expect(d.status).toBe('pending');
      expect(await fleet.desiredVersion(d.deviceId)).toBe(2);
      expect(fleet.received(d.deviceId)).toEqual([1, 2]);
    }
  });
});
