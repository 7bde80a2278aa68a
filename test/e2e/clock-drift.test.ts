import { afterAll, describe, expect, it } from 'vitest';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { fakeTimeEnv } from '../helpers/faketime.js';
import { startFleetRig, type FleetRig } from '../helpers/fleet-rig.js';
import { waitFor } from '../helpers/wait-for.js';

/** The device's clock runs 20 % fast: it gains 2 s every 10 s (libfaketime on the agent process only). */
const DRIFT = '+0 x1.2';

/** skewMs of each "controller clock read" line of an agent's JSON log, in order. */
function skewReadings(output: string): number[] {
  return [...output.matchAll(/"skewMs":(-?\d+)[^\n]*"msg":"controller clock read/g)].map((m) => Number(m[1]));
}

/**
 * DD-061: a device's clock drifts during a long connection. With
 * `--clock-refresh` the agent repeats its online presence (same epoch) and
 * the controller's answer re-reads the clock, on the same connection: the
 * measured skew follows the drift instead of staying what it was at connect.
 */
describe('clock drift on one long connection', () => {
  let rig: FleetRig | undefined;
  dumpOnFailure(() => rig?.fleet.outputs() ?? {});

  afterAll(async () => {
    await rig?.close();
  });

  it('the skew is re-read every --clock-refresh seconds without a reconnect, and follows the drift', async () => {
    rig = await startFleetRig({ prefix: 'drift', count: 1, agentEnv: () => fakeTimeEnv(DRIFT), agentArgs: () => ['--clock-refresh', '2'] });
    const { fleet } = rig;
    const id = fleet.ids[0]!;
    const agent = fleet.agent(id);
    // Several readings, the last over 1.5 s away from the first: about 8 s of real time at this drift.
    const readings = await waitFor(
      () => {
        const r = skewReadings(agent.output());
        return r.length >= 3 && r.at(-1)! - r[0]! >= 1_500 ? r : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, description: `${id} re-reads a growing skew` },
    );
    // One connection all along: the readings came from repeated presences, not reconnects.
    expect(agent.output().split('"msg":"connected"').length - 1, agent.output()).toBe(1);
    // The device runs ahead ever more: each reading is not below the one before it (a reading's error is half its round trip).
    for (let i = 1; i < readings.length; i++) expect(readings[i]!, readings.join(',')).toBeGreaterThan(readings[i - 1]! - 250);
    // The presence stays right: one online presence epoch, still online.
    expect((await fleet.client.getDevice(id)).online).toBe(true);
  });
});
