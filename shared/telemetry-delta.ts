import type { Telemetry, TelemetryDelta, TelemetryMessage } from './schemas/telemetry.js';

/**
 * Delta telemetry (DD-038, protocol §6.7): the semantics both sides share.
 * The agent computes deltas (agent/telemetry/delta.ts); the controller
 * merges them onto the full sample they name as their base.
 */

export function isTelemetryDelta(m: TelemetryMessage): m is TelemetryDelta {
  return 'base' in m;
}

/** Whole seconds from `fromIso` to `toIso` (negative if the clock went back). */
export function wholeSecondsBetween(fromIso: string, toIso: string): number {
  return Math.trunc((Date.parse(toIso) - Date.parse(fromIso)) / 1000);
}

/** An uptime a delta leaves out: the base's plus the whole seconds elapsed, never below 0. */
export function predictedUptime(baseSeconds: number, baseAt: string, at: string): number {
  return Math.max(0, baseSeconds + wholeSecondsBetween(baseAt, at));
}

/**
 * Pure: the full sample a delta stands for. null when the delta is not
 * relative to this base (another device, or another full sample: a delta
 * always names the last full sample its sender sent).
 */
export function applyTelemetryDelta(base: Telemetry, delta: TelemetryDelta): Telemetry | null {
  if (delta.deviceId !== base.deviceId || Date.parse(delta.base) !== Date.parse(base.at)) return null;
  return {
    protocol: delta.protocol,
    deviceId: base.deviceId,
    at: delta.at,
    uptimeSeconds: delta.uptimeSeconds ?? predictedUptime(base.uptimeSeconds, base.at, delta.at),
    agentUptimeSeconds: delta.agentUptimeSeconds ?? predictedUptime(base.agentUptimeSeconds, base.at, delta.at),
    cpu: patched(base.cpu, delta.cpu),
    memory: patched(base.memory, delta.memory),
    disk: patched(base.disk, delta.disk),
    containers: (delta.containers ?? base.containers).map((c) => ({ ...c })),
    mqtt: patched(base.mqtt, delta.mqtt),
  };
}

/** The base object with the members the patch carries (an `undefined` member counts as left out). */
function patched<T extends object>(base: T, patch: Partial<T> | undefined): T {
  const out = { ...base };
  if (patch) for (const key of Object.keys(patch) as (keyof T)[]) if (patch[key] !== undefined) out[key] = patch[key] as T[keyof T];
  return out;
}
