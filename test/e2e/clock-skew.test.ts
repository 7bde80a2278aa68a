import { afterAll, describe, expect, it } from 'vitest';
import { checkHistory } from '../../bench/chaos/checker.js';
import { deviceContainers } from '../helpers/device-containers.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { fakeTimeEnv } from '../helpers/faketime.js';
import { deployFirstRelease, startFleetRig, type FleetRig } from '../helpers/fleet-rig.js';
import { TEST_IMAGE_2 } from '../helpers/images.js';
import { waitFor } from '../helpers/wait-for.js';

const HOUR_MS = 3_600_000;
/** Device 0 runs an hour ahead, device 1 an hour behind (libfaketime on the agent process only). */
const SKEWS = [
  { spec: '+1h', ms: HOUR_MS },
  { spec: '-1h', ms: -HOUR_MS },
] as const;
/** How close the measured skew must be: loopback round trips are milliseconds, this leaves room for a loaded machine. */
const SKEW_TOLERANCE_MS = 5_000;

/**
 * Issue 13, F9: a device whose clock is an hour off, either way (DD-052).
 * Every instant the controller writes is compared with the controller's time
 * the agent learnt from the ControllerTime answer to its presence: a fresh
 * command with a short TTL runs (an hour-ahead clock used to drop it as
 * expired), an expired one does not (an hour-behind clock used to run it), an
 * `apply.after` opens when the controller meant it (not an hour early or
 * late), and the skew is in the device's report. Both brokers: the clock
 * topic is in the Outpost broker's policy and in the Mosquitto device role.
 */
describe('F9: clock skew of ±1 h on a device', () => {
  let rig: FleetRig | undefined;
  dumpOnFailure(() => rig?.fleet.outputs() ?? {});

  afterAll(async () => {
    await rig?.close();
  });

  it('versions apply in order, short-TTL commands run, expired ones do not, windows open on controller time, the skew is reported', async () => {
    const role = `skew-${Math.random().toString(36).slice(2, 7)}`;
    const since = Date.now() / 1000 - 1;
    rig = await startFleetRig({
      prefix: 'skew',
      count: SKEWS.length,
      labels: () => ({ role }),
      agentEnv: (i) => fakeTimeEnv(SKEWS[i]?.spec ?? '+0'),
    });
    const { fleet } = rig;
    await deployFirstRelease(fleet, { app: 'sk', workload: 'web', role });

    // The skew shows in the report the API serves, and the report is stamped in controller time.
    for (const [i, id] of fleet.ids.entries()) {
      const expected = SKEWS[i]?.ms ?? 0;
      const device = await waitFor(
        async () => {
          const d = await fleet.client.getDevice(id);
          const clock = d.reported?.clock;
          return clock && Math.abs(clock.skewMs - expected) < SKEW_TOLERANCE_MS ? d : undefined;
        },
        { timeoutMs: 30_000, description: `${id} reports a skew of ${expected} ms` },
      );
      expect(Math.abs(Date.parse(device.reported?.reportedAt ?? '') - Date.now())).toBeLessThan(60_000);
    }

    // A fresh command with a 5 s TTL is executed on both.
    for (const id of fleet.ids) {
      const { view, answered } = await fleet.client.sendCommand(id, { type: 'ping', ttlSeconds: 5, waitSeconds: 20 });
      expect(answered, `${id} answered the ping`).toBe(true);
      expect(view).toMatchObject({ status: 'done', result: { ok: true } });
    }

    // A command that expired while the device was away is dropped, whichever way its clock is off.
    for (const id of fleet.ids) {
      await fleet.stopAgent(id);
      const { view } = await fleet.client.sendCommand(id, { type: 'ping', ttlSeconds: 1, waitSeconds: 0 });
      const commandId = view.command.id;
      await waitFor(async () => (await fleet.client.getCommand(id, commandId)).status === 'expired', {
        timeoutMs: 15_000,
        description: `command ${commandId} past its expiry`,
      });
      await fleet.startAgent(id);
      const answer = await waitFor(
        () => fleet.watches[id]?.events.find((e) => e.type.startsWith('command.') && (e.data as { commandId?: string } | undefined)?.commandId === commandId),
        { timeoutMs: 30_000, description: `${id} answered the queued command` },
      );
      expect(answer.type, `${id} dropped the expired command`).toBe('command.expired');
    }

    // An apply window (`after`) 20 s ahead on the controller's clock: downloaded at once, applied only then.
    const after = new Date(Date.now() + 20_000);
    await fleet.client.createDeployment({ app: 'sk', version: '2', target: { kind: 'selector', selector: `role=${role}` }, apply: { after: after.toISOString() } });
    for (const id of fleet.ids) {
      const version = (await fleet.desiredVersion(id)) ?? 0;
      const waiting = await fleet.watches[id]!.waitForReport((r) => r.phase === 'deferred' && r.deferred?.version === version, 30_000, `${id} waits for after`);
      expect(waiting.deferred).toMatchObject({ reason: 'window', until: after.toISOString() });
    }
    for (const id of fleet.ids) {
      const version = (await fleet.desiredVersion(id)) ?? 0;
      await fleet.converged(id, version, 60_000);
      // Docker's clock is not skewed: the new container started after `after`, not an hour before or after it.
      const [web] = (await deviceContainers(id)).filter((c) => c.image === TEST_IMAGE_2 && c.state === 'running');
      expect(web, `${id} runs v2`).toBeDefined();
      const started = Date.parse(web?.startedAt ?? '');
      expect(started).toBeGreaterThanOrEqual(after.getTime() - 1000);
      expect(started).toBeLessThan(after.getTime() + 30_000);

      const verdict = checkHistory(id, await fleet.history(id, version, since));
      expect(verdict).toEqual({ lost: 0, duplicated: 0, unexpected: 0, problems: [] });
    }
  });
});
