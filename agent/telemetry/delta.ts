import type { Telemetry, TelemetryDelta } from '../../shared/schemas/telemetry.js';
import { predictedUptime } from '../../shared/telemetry-delta.js';

/** How far an uptime may be from its prediction and still be left out: the sender floors both ends. */
const UPTIME_SLACK_SECONDS = 1;

/**
 * Pure (DD-038): `current` as changes against `base`, the last full sample
 * sent. Members equal to the base's are left out; the uptimes are left out
 * when within a second of base + elapsed, so a steady device sends neither.
 * applyTelemetryDelta(base, telemetryDelta(base, x)) is x up to that second.
 */
export function telemetryDelta(base: Telemetry, current: Telemetry): TelemetryDelta {
  const delta: TelemetryDelta = { protocol: current.protocol, deviceId: current.deviceId, at: current.at, base: base.at };
  const uptime = (key: 'uptimeSeconds' | 'agentUptimeSeconds'): void => {
    if (Math.abs(current[key] - predictedUptime(base[key], base.at, current.at)) > UPTIME_SLACK_SECONDS) delta[key] = current[key];
  };
  uptime('uptimeSeconds');
  uptime('agentUptimeSeconds');
  const cpu = changed(base.cpu, current.cpu);
  if (cpu) delta.cpu = cpu;
  const memory = changed(base.memory, current.memory);
  if (memory) delta.memory = memory;
  const disk = changed(base.disk, current.disk);
  if (disk) delta.disk = disk;
  if (!sameContainers(base.containers, current.containers)) delta.containers = current.containers.map((c) => ({ ...c }));
  const mqtt = changed(base.mqtt, current.mqtt);
  if (mqtt) delta.mqtt = mqtt;
  return delta;
}

/** The members of `current` that differ from `base`; undefined when none do. */
function changed<T extends Record<string, string | number | null>>(base: T, current: T): Partial<T> | undefined {
  const out: Partial<T> = {};
  let any = false;
  for (const key of Object.keys(current) as (keyof T)[]) {
    if (current[key] !== base[key]) {
      out[key] = current[key];
      any = true;
    }
  }
  return any ? out : undefined;
}

function sameContainers(a: Telemetry['containers'], b: Telemetry['containers']): boolean {
  return a.length === b.length && a.every((c, i) => c.workload === b[i]?.workload && c.state === b[i]?.state && c.restartCount === b[i]?.restartCount);
}
