import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceEvent } from '../../shared/schemas/event.js';
import type { Presence } from '../../shared/schemas/presence.js';
import type { ReportedState } from '../../shared/schemas/reported-state.js';
import type { DeviceRig } from '../helpers/device-rig.js';
import { waitFor } from '../helpers/docker.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import type { MqttRelay, RelayedPacket } from '../helpers/mqtt-relay.js';
import { startRelayedRig, threeWorkloads, type RelayedRig } from '../helpers/relayed-rig.js';

const parse = <T>(p: RelayedPacket): T => JSON.parse(p.payload?.toString('utf8') ?? 'null') as T;

/**
 * Issue 11, test 1: the shape of an update's traffic on the device's link, counted by a relay between
 * a real agent (Docker runtime) and the broker. Timings and byte totals belong to the benchmark.
 */
describe('what an update costs on the link', () => {
  let ctx: RelayedRig;
  let relay: MqttRelay;
  let rig: DeviceRig;
  dumpOnFailure((): Record<string, string> => ({
    ...(rig?.agent ? { agent: rig.agent.output() } : {}),
    relay: (relay?.packets ?? []).map((p) => `${p.direction} ${p.cmd} ${p.topic ?? ''} ${p.payload?.toString('utf8').slice(0, 160) ?? ''}`).join('\n'),
  }));

  beforeAll(async () => {
    ctx = await startRelayedRig('traffic');
    ({ relay, rig } = ctx);
    // Progress reports paced at a minute: longer than any update here, so the count below is exact.
    // No periodic pass: one that ends as version 2 arrives reports the new seenVersion on its own.
    await rig.startAgent({ brokerUrl: relay.url, extraArgs: ['--report-delay-ms', '60000', '--resync-interval', '0'] });
  });

  afterAll(async () => {
    await ctx?.close();
  });

  const eventsUp = (): DeviceEvent[] => relay.publishes('up', '/events').map((p) => parse<DeviceEvent>(p));

  it('a three-workload update is three events and one report; a reconnect to the same version costs no event', async () => {
    await rig.publish(1, threeWorkloads('1'));
    await rig.converged(1);

    relay.reset();
    await rig.publish(2, threeWorkloads('2'));
    await rig.converged(2); // the watcher has the converged report: it crossed the relay before

    const events = eventsUp();
    expect(events.map((e) => [e.type, e.version])).toEqual([
      ['desired.received', 2],
      ['reconcile.started', 2],
      ['reconcile.succeeded', 2],
    ]);
    // The steps are in the closing event: each workload's container replaced.
    const steps = (events[2]?.data.steps ?? []) as { step: string; workload: string }[];
    for (const w of ['a', 'b', 'c']) expect(steps.filter((s) => s.workload === w).map((s) => s.step)).toEqual(expect.arrayContaining(['create', 'start']));
    // Reports: an outcome goes at once; progress (the update started, a workload starting) waits for
    // the pacing delay, here longer than the update, so it is folded into the converged report.
    const reports = relay.publishes('up', '/reported').map((p) => parse<ReportedState>(p));
    expect(reports.map((r) => [r.phase, r.desired.appliedVersion])).toEqual([['converged', 2]]);
    // Compact (DD-037): no field at its default, 12-digit ids.
    const wire = JSON.parse(relay.publishes('up', '/reported')[0]?.payload?.toString('utf8') ?? '{}') as { workloads: Record<string, Record<string, unknown>> };
    for (const w of Object.values(wire.workloads)) {
      expect(w.containerId).toMatch(/^[0-9a-f]{12}$/);
      expect(w).not.toHaveProperty('exitCode');
    }
    // What the device sent: PUBLISHes on its own events and reported topics, PUBACKs for what it received.
    expect(new Set(relay.publishes('up').map((p) => p.topic?.split('/').at(-1)))).toEqual(new Set(['events', 'reported']));

    // The link drops; the agent reconnects and gets the retained version 2 it already runs.
    relay.reset();
    relay.cut();
    await waitFor(() => relay.publishes('up', '/presence').some((p) => parse<Presence>(p).status === 'online'), {
      timeoutMs: 30_000,
      description: 'the agent back online',
    });
    await waitFor(() => relay.publishes('down', '/desired').length > 0, { timeoutMs: 30_000, description: 'the retained document re-delivered' });
    // Sentinel: a newer version. Messages are handled in order, so whatever the re-delivery caused went out before its event.
    await rig.publish(3, threeWorkloads('3'));
    await waitFor(() => eventsUp().some((e) => e.type === 'desired.received' && e.version === 3), { timeoutMs: 30_000, description: 'version 3 received' });
    const afterReconnect = eventsUp();
    const sentinel = afterReconnect.findIndex((e) => e.type === 'desired.received' && e.version === 3);
    expect(afterReconnect.slice(0, sentinel).map((e) => e.type)).toEqual([]);
    await rig.converged(3);
  });
});
