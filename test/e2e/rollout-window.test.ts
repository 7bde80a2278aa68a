import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRollout } from '../../cli/client/rollout-client.js';
import { deviceContainers } from '../helpers/device-containers.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { deployFirstRelease, startFleetRig, type FleetRig } from '../helpers/fleet-rig.js';
import { TEST_IMAGE } from '../helpers/images.js';
import { RolloutFleet } from '../helpers/rollout-fleet.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Maintenance windows with the real clock: devices labelled for a window
 * that opens at the next minute boundary receive nothing before it opens,
 * and the new release right after; devices without a window get it at once.
 */
describe('rollout maintenance windows', () => {
  let ctx: FleetRig;
  let fleet: RolloutFleet;
  const role = `win-${Math.random().toString(36).slice(2, 7)}`;
  dumpOnFailure(() => ({ ...(fleet?.outputs() ?? {}) }));

  beforeAll(async () => {
    ctx = await startFleetRig({
      prefix: 'win',
      count: 4,
      labels: (i): Record<string, string> => (i < 2 ? { role, 'maintenance-window': 'night' } : { role }),
    });
    fleet = ctx.fleet;
    await deployFirstRelease(fleet, { app: 'gw', workload: 'relay', role });
  });

  afterAll(async () => {
    await ctx?.close();
  });

  it('windowed devices receive nothing until their window opens; the others at once', async () => {
    // The first minute boundary at least 12 s away: time for the open devices to converge first.
    const opensAt = new Date(Math.ceil((Date.now() + 12_000) / 60_000) * 60_000);
    const windowed = fleet.ids.slice(0, 2);
    const open = fleet.ids.slice(2);
    const id = `gw-2-${role}`;
    await createRollout(fleet.client, {
      id,
      app: 'gw',
      toVersion: '2',
      target: { kind: 'selector', selector: `role=${role}` },
      waves: { kind: 'sizes', sizes: ['100%'] },
      windows: { night: { cron: `${opensAt.getUTCMinutes()} ${opensAt.getUTCHours()} * * *`, durationMinutes: 1, timezone: 'UTC' } },
    });

    for (const d of open) await fleet.converged(d, 2);
    // Until the window opens, the windowed devices keep their version and are pending.
    await waitFor(() => Date.now() >= opensAt.getTime() - 1_500, { timeoutMs: 80_000, intervalMs: 200, description: 'just before the window' });
    const before = await fleet.rollout(id);
    expect(before.phase).toBe('running');
    for (const d of windowed) {
      expect(before.devices.find((x) => x.deviceId === d)?.status).toBe('pending');
      expect(await fleet.desiredVersion(d)).toBe(1);
      expect(fleet.received(d)).toEqual([1]);
      expect((await deviceContainers(d)).map((c) => c.image)).toEqual([TEST_IMAGE]);
    }

    const done = await fleet.waitForPhase(id, ['succeeded', 'paused'], 60_000);
    expect(done.phase).toBe('succeeded');
    for (const d of windowed) {
      const state = done.devices.find((x) => x.deviceId === d);
      expect(Date.parse(state?.notifiedAt ?? '')).toBeGreaterThanOrEqual(opensAt.getTime());
      await fleet.converged(d, 2);
      expect(fleet.received(d)).toEqual([1, 2]);
    }
    for (const d of open) expect(Date.parse(done.devices.find((x) => x.deviceId === d)?.notifiedAt ?? '')).toBeLessThan(opensAt.getTime());
  });
});
