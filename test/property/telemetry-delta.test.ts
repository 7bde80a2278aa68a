import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { telemetryDelta } from '../../agent/telemetry/delta.js';
import { Telemetry, TelemetryDelta } from '../../shared/schemas/telemetry.js';
import { applyTelemetryDelta } from '../../shared/telemetry-delta.js';
import { telemetryArb } from './arbitraries/protocol.js';
import { runs } from './arbitraries/settings.js';

/** A later sample of the same device: anything may have changed, the uptimes usually by about the time elapsed. */
const pairArb = fc
  .tuple(telemetryArb(), telemetryArb(), fc.integer({ min: -5, max: 86_400_000 }), fc.integer({ min: -3, max: 3 }), fc.boolean())
  .map(([base, next, elapsedMs, drift, steady]) => {
    const at = new Date(Date.parse(base.at) + elapsedMs).toISOString();
    const moved = (v: number): number => Math.max(0, Math.floor(v) + Math.trunc(elapsedMs / 1000) + drift);
    const current: Telemetry = {
      ...next,
      deviceId: base.deviceId,
      at,
      ...(steady ? { uptimeSeconds: moved(base.uptimeSeconds), agentUptimeSeconds: moved(base.agentUptimeSeconds), cpu: { ...base.cpu, usagePct: next.cpu.usagePct }, disk: base.disk } : {}),
    };
    return { base, current };
  });

describe('telemetry deltas (property-based, DD-038)', () => {
  it('apply(base, delta(base, x)) is x, uptimes within a second; the delta is a valid TelemetryDelta and the result a valid Telemetry', () => {
    fc.assert(
      fc.property(pairArb, ({ base, current }) => {
        const delta = telemetryDelta(base, current);
        expect(TelemetryDelta.safeParse(JSON.parse(JSON.stringify(delta))).success).toBe(true);
        const merged = applyTelemetryDelta(base, JSON.parse(JSON.stringify(delta)) as TelemetryDelta);
        expect(merged).not.toBeNull();
        if (!merged) return;
        expect(Telemetry.safeParse(merged).success).toBe(true);
        const { uptimeSeconds, agentUptimeSeconds, ...rest } = merged;
        const { uptimeSeconds: u, agentUptimeSeconds: a, ...expected } = current;
        expect(JSON.parse(JSON.stringify(rest))).toEqual(JSON.parse(JSON.stringify(expected)));
        expect(Math.abs(uptimeSeconds - u)).toBeLessThanOrEqual(1);
        expect(Math.abs(agentUptimeSeconds - a)).toBeLessThanOrEqual(1);
      }),
      runs(2000),
    );
  });

  it('a delta is never relative to anything but the full sample it names', () => {
    fc.assert(
      fc.property(pairArb, telemetryArb(), ({ base, current }, other) => {
        const delta = telemetryDelta(base, current);
        fc.pre(Date.parse(other.at) !== Date.parse(base.at) || other.deviceId !== base.deviceId);
        expect(applyTelemetryDelta(other, delta)).toBeNull();
      }),
      runs(500),
    );
  });
});
