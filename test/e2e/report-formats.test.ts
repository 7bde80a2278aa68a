import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRollout } from '../../cli/client/rollout-client.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { deployFirstRelease, startFleetRig, type FleetRig } from '../helpers/fleet-rig.js';
import { TEST_IMAGE_2 } from '../helpers/images.js';
import type { RolloutFleet } from '../helpers/rollout-fleet.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Issue 11, test 2: agents of different reporting levels under one controller.
 * Device 0 reports as agents before DD-036/DD-037 did (full reports, one event
 * per step), device 1 with today's defaults (compact, summary), device 2 on
 * the cellular profile (compact, one event per update, paced reports). One
 * rollout moves all three; the controller follows each to the end and keeps
 * what each reported.
 */
describe('report formats side by side', () => {
  let ctx: FleetRig;
  let fleet: RolloutFleet;
  const role = `fmt-${Math.random().toString(36).slice(2, 7)}`;
  const AGENT_ARGS = [['--report-format', 'full', '--event-detail', 'steps'], [], ['--profile', 'cellular']];
  dumpOnFailure(() => ({ ...(fleet?.outputs() ?? {}) }));

  beforeAll(async () => {
    ctx = await startFleetRig({ prefix: 'fmt', count: 3, labels: () => ({ role }), agentArgs: (i) => AGENT_ARGS[i] ?? [] });
    fleet = ctx.fleet;
    await deployFirstRelease(fleet, { app: 'web', workload: 'main', role });
  });

  afterAll(async () => {
    await ctx?.close();
  });

  it('one rollout converges a full-report agent, a compact one and a cellular one', async () => {
    const id = `web-2-${role}`;
    await createRollout(fleet.client, { id, app: 'web', toVersion: '2', target: { kind: 'selector', selector: `role=${role}` }, waves: { kind: 'sizes', sizes: [1, '100%'] } });
    const done = await fleet.waitForPhase(id, ['succeeded', 'paused', 'failed'], 120_000);
    expect(done.phase).toBe('succeeded');
    expect(done.devices.map((d) => [d.deviceId, d.status])).toEqual(expect.arrayContaining(fleet.ids.map((d) => [d, 'succeeded'])));

    // What the controller stored of each device's report: converged on version 2, ids as each agent wrote them.
    const lengths: number[] = [];
    for (const deviceId of fleet.ids) {
      const detail = await fleet.client.getDevice(deviceId);
      const reported = (detail as { reported: { phase: string; desired: { appliedVersion: number | null }; workloads: Record<string, { containerId: string | null; image: string }> } | null }).reported;
      expect(reported?.phase, deviceId).toBe('converged');
      expect(reported?.desired.appliedVersion, deviceId).toBe(2);
      const workloads = Object.values(reported?.workloads ?? {}); // one: the app's `main`, under its composed name
      expect(workloads.map((w) => w.image), deviceId).toEqual([TEST_IMAGE_2]);
      lengths.push(workloads[0]?.containerId?.length ?? 0);
    }
    expect(lengths).toEqual([64, 12, 12]);

    // And their events, as each level tells an update (the controller stores them as they come: wait for the closing one).
    const types = (deviceId: string): Promise<string[]> =>
      waitFor(
        async () => {
          const t = (await fleet.client.eventsOf(deviceId, 200)).events.filter((e) => e.version === 2).map((e) => e.type);
          return t.includes('reconcile.succeeded') ? t : undefined;
        },
        { timeoutMs: 30_000, description: `${deviceId}: the event closing version 2` },
      );
    const [full, compact, cellular] = fleet.ids as [string, string, string];
    expect(await types(full)).toEqual(expect.arrayContaining(['desired.received', 'reconcile.started', 'step.succeeded', 'reconcile.succeeded']));
    expect((await types(compact)).sort()).toEqual(['desired.received', 'reconcile.started', 'reconcile.succeeded']);
    expect(await types(cellular)).toEqual(['reconcile.succeeded']);
  });
});
