import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceEvent } from '../../shared/schemas/event.js';
import type { DeviceRig } from '../helpers/device-rig.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { deviceContainers } from '../helpers/device-containers.js';
import type { MqttRelay } from '../helpers/mqtt-relay.js';
import { startRelayedRig, threeWorkloads, type RelayedRig } from '../helpers/relayed-rig.js';

/**
 * Issue 11, test 3: an agent on the cellular profile completes updates through a link of 64 kbit/s each
 * way with 300 ms of delay (a userspace relay; tc netem is not available here), on one connection: no
 * false keepalive time-out, no reconnect.
 */
describe('the cellular profile over a slow link', () => {
  let ctx: RelayedRig;
  let relay: MqttRelay;
  let rig: DeviceRig;
  dumpOnFailure((): Record<string, string> => ({
    ...(rig?.agent ? { agent: rig.agent.output() } : {}),
    relay: (relay?.packets ?? []).map((p) => `${p.direction} ${p.cmd} ${p.topic ?? ''}`).join('\n'),
  }));

  beforeAll(async () => {
    ctx = await startRelayedRig('cell', { bitsPerSecond: 64_000, delayMs: 300 });
    ({ relay, rig } = ctx);
    await rig.startAgent({ brokerUrl: relay.url, profile: 'cellular' });
  });

  afterAll(async () => {
    await ctx?.close();
  });

  it('applies two three-workload updates on one connection with keepalive 300 s', async () => {
    await rig.publish(1, threeWorkloads('1'));
    await rig.converged(1, 120_000);
    await rig.publish(2, threeWorkloads('2'));
    await rig.converged(2, 120_000);
    expect((await deviceContainers(rig.deviceId)).map((c) => c.env.includes('TAG=2'))).toEqual([true, true, true]);

    const connects = relay.packets.filter((p) => p.cmd === 'connect');
    expect(connects.map((p) => p.keepalive)).toEqual([300]);
    expect(rig.watch.presence.map((p) => p.status)).not.toContain('offline');
    // Each update told in one event (event detail outcome), its steps counted: three containers replaced.
    const events = relay.publishes('up', '/events').map((p) => JSON.parse(p.payload?.toString('utf8') ?? '{}') as DeviceEvent);
    expect(events.filter((e) => e.version === 2).map((e) => [e.type, e.data?.stepCount])).toEqual([['reconcile.succeeded', 12]]);
  });
});
