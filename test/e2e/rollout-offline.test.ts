import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRollout } from '../../cli/client/rollout-client.js';
import { RolloutSpec } from '../../controller/rollout/model.js';
import { planWaveLayout } from '../../controller/rollout/plan-waves.js';
import { deviceContainers } from '../helpers/device-containers.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { deployFirstRelease, startFleetRig, type FleetRig } from '../helpers/fleet-rig.js';
import { TEST_IMAGE_2 } from '../helpers/images.js';
import { assertWavesInOrder, RolloutFleet } from '../helpers/rollout-fleet.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * A device that is offline when its wave reaches it times out per policy (a
 * silent device never holds a wave open), the wave advances by its
 * thresholds, and when the device comes back it still converges to the
 * rollout's release; its late success is recorded.
 */
describe('rollout with an offline device', () => {
  let ctx: FleetRig;
  let fleet: RolloutFleet;
  const role = `off-${Math.random().toString(36).slice(2, 7)}`;
  dumpOnFailure(() => ({ ...(fleet?.outputs() ?? {}) }));

  beforeAll(async () => {
    ctx = await startFleetRig({ prefix: 'off', count: 3, labels: () => ({ role }) });
    fleet = ctx.fleet;
    await deployFirstRelease(fleet, { app: 'gw', workload: 'relay', role });
  });

  afterAll(async () => {
    await ctx?.close();
  });

  it('times the offline device out, advances by thresholds, and records its late success when it returns', async () => {
    const spec = {
      id: `gw-2-${role}`,
      app: 'gw',
      toVersion: '2',
      target: { kind: 'selector', selector: `role=${role}` },
      waves: { kind: 'sizes', sizes: [2, '100%'] },
      successThresholdPct: 50,
      maxFailurePct: 50,
      deviceTimeoutSeconds: 6,
    };
    // Device order is a stable hash: the test knows which devices wave 0 will hold.
    const layout = planWaveLayout(RolloutSpec.parse(spec), fleet.ids.map((id) => ({ id, labels: { role } })));
    const offline = layout.waves[0]![1]!;
    await fleet.stopAgent(offline);
    await waitFor(async () => !(await fleet.client.getDevice(offline)).online, { description: `${offline} offline` });

    await createRollout(fleet.client, spec);
    const done = await fleet.waitForPhase(spec.id, ['succeeded', 'paused']);
    expect(done.phase).toBe('succeeded');
    expect(assertWavesInOrder(done)).toEqual([]);
    // Thresholds decide: 1 of 2 succeeded reaches 50%, and even if the silent device fails the 50% limit holds.
    expect(done.waves[0]).toMatchObject({ outcome: 'passed', reason: expect.stringMatching(/1 of 2 devices succeeded/) });
    for (const d of done.devices.filter((x) => x.deviceId !== offline)) expect(d.status).toBe('succeeded');

    // The silent device times out per policy: not before 6 s after it was notified.
    const timedOut = await waitFor(
      async () => {
        const d = (await fleet.rollout(spec.id)).devices.find((x) => x.deviceId === offline);
        // Recorded by a tick (the API also shows a lapsed deadline before that, without the cause).
        return d?.status === 'timed-out' && d.reason?.includes('(') ? d : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250, description: `${offline} timed out` },
    );
    expect(timedOut).toMatchObject({ wave: 0, version: 2, lateSuccess: false, reason: expect.stringMatching(/no success within 6s .*device offline/) });
    expect(Date.now() - Date.parse(timedOut.notifiedAt!)).toBeGreaterThanOrEqual(6_000);
    const counted = await fleet.rollout(spec.id);
    expect(counted.waves[0]!.counts).toMatchObject({ succeeded: 1, timedOut: 1 });
    expect(counted.totals.timedOut).toBe(1);

    // The device comes back: it gets the rollout's release (its retained desired version) and converges.
    await fleet.startAgent(offline);
    await fleet.converged(offline, 2);
    expect((await deviceContainers(offline)).map((c) => c.image)).toEqual([TEST_IMAGE_2]);
    const late = await waitFor(
      async () => {
        const r = await fleet.rollout(spec.id);
        return r.devices.find((d) => d.deviceId === offline)?.lateSuccess ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, description: 'late success recorded' },
    );
    expect(late.phase).toBe('succeeded');
    expect(late.lateSuccesses).toBe(1);
    expect(late.devices.find((d) => d.deviceId === offline)).toMatchObject({ status: 'timed-out', lateSuccess: true, succeededAt: expect.any(String) });
    expect(fleet.received(offline)).toEqual([1, 2]);
  });
});
