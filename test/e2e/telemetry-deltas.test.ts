import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Telemetry, TelemetryMessage } from '../../shared/schemas/telemetry.js';
import { applyTelemetryDelta, isTelemetryDelta } from '../../shared/telemetry-delta.js';
import type { DeviceRig } from '../helpers/device-rig.js';
import { waitFor } from '../helpers/docker.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import type { MqttRelay, RelayedPacket } from '../helpers/mqtt-relay.js';
import { startRelayedRig, threeWorkloads, type RelayedRig } from '../helpers/relayed-rig.js';

interface Sample {
  /** Index of the packet in the relay's record, to place it against CONNECTs. */
  index: number;
  bytes: number;
  message: TelemetryMessage;
}

/**
 * Issue 11, DD-038: what a real agent sends on the telemetry topic, read on the link by a relay: a full
 * sample first on every connection, deltas against it after that. Prints the sizes of both.
 */
describe('telemetry as deltas on the link', () => {
  let ctx: RelayedRig;
  let relay: MqttRelay;
  let rig: DeviceRig;
  dumpOnFailure((): Record<string, string> => ({
    ...(rig?.agent ? { agent: rig.agent.output() } : {}),
    relay: (relay?.packets ?? []).map((p) => `${p.direction} ${p.cmd} ${p.topic ?? ''} ${p.payload?.toString('utf8').slice(0, 200) ?? ''}`).join('\n'),
  }));

  beforeAll(async () => {
    ctx = await startRelayedRig('tdelta');
    ({ relay, rig } = ctx);
    await rig.startAgent({ brokerUrl: relay.url, extraArgs: ['--telemetry-interval', '1'] });
    await rig.publish(1, threeWorkloads('1'));
    await rig.converged(1);
  });

  afterAll(async () => {
    await ctx?.close();
  });

  const samples = (): Sample[] =>
    relay.packets.flatMap((p: RelayedPacket, index) =>
      p.direction === 'up' && p.cmd === 'publish' && p.topic?.endsWith('/telemetry') && p.payload
        ? [{ index, bytes: p.payload.length, message: TelemetryMessage.parse(JSON.parse(p.payload.toString('utf8'))) }]
        : [],
    );
  const connectIndexes = (): number[] => relay.packets.flatMap((p, i) => (p.direction === 'up' && p.cmd === 'connect' ? [i] : []));

  /** Full samples and the deltas that follow each, checked: every delta names the last full sample and merges onto it. */
  function checkChain(list: Sample[]): { full: Sample[]; deltas: Sample[] } {
    let base: Telemetry | null = null;
    const full: Sample[] = [];
    const deltas: Sample[] = [];
    for (const s of list) {
      if (!isTelemetryDelta(s.message)) {
        base = s.message;
        full.push(s);
        continue;
      }
      expect(base, 'a delta before any full sample').not.toBeNull();
      expect(s.message.base).toBe(base?.at);
      expect(Telemetry.safeParse(base && applyTelemetryDelta(base, s.message)).success).toBe(true);
      deltas.push(s);
    }
    return { full, deltas };
  }

  it('the first sample on a connection is full, then deltas; after the link drops, full again', async () => {
    await waitFor(() => samples().filter((s) => isTelemetryDelta(s.message)).length >= 3, { timeoutMs: 20_000, description: 'three deltas' });
    const first = samples();
    expect(first[0] && isTelemetryDelta(first[0].message), 'first sample of the agent').toBe(false);
    checkChain(first);

    relay.cut();
    await waitFor(() => connectIndexes().length >= 2, { timeoutMs: 20_000, description: 'the agent reconnects' });
    const reconnectAt = connectIndexes()[1] ?? Infinity;
    await waitFor(() => samples().filter((s) => s.index > reconnectAt && isTelemetryDelta(s.message)).length >= 3, { timeoutMs: 20_000, description: 'deltas on the new connection' });
    const after = samples().filter((s) => s.index > reconnectAt);
    expect(after[0] && isTelemetryDelta(after[0].message), 'first sample on the new connection').toBe(false);
    const { full, deltas } = checkChain(after);

    // Sizes as the agent sends them (payload bytes), three workloads running.
    const fullBytes = full[0]?.bytes ?? 0;
    const deltaBytes = deltas.map((d) => d.bytes);
    process.stdout.write(`telemetry payload bytes: full ${fullBytes}, deltas ${deltaBytes.join(', ')}; a delta: ${JSON.stringify(deltas[0]?.message)}\n`);
    expect(Math.max(...deltaBytes)).toBeLessThan(fullBytes / 2);
  });
});
