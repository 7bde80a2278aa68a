import type { DeviceSummaryBody } from '../client/responses.js';

export interface FleetProgress {
  total: number;
  online: number;
  /** Devices per reported phase, for this run's devices only. */
  phases: Record<string, number>;
  /** Devices whose applied version is their desired version. */
  inSync: number;
}

/** What the control plane says about this run's simulated devices. */
export function fleetProgress(devices: readonly DeviceSummaryBody[], ids: ReadonlySet<string>): FleetProgress {
  const mine = devices.filter((d) => ids.has(d.id));
  const phases: Record<string, number> = {};
  for (const d of mine) phases[d.phase] = (phases[d.phase] ?? 0) + 1;
  return { total: ids.size, online: mine.filter((d) => d.online).length, phases, inSync: mine.filter((d) => d.inSync && d.appliedVersion !== null).length };
}

const ORDER = ['converged', 'applying', 'deferred', 'degraded', 'failed', 'rolled-back', 'idle'];

/** One line: `simulated fleet: 20/20 connected · 18 converged · 2 failed`. */
export function progressLine(p: FleetProgress): string {
  const phases = Object.entries(p.phases)
    .sort(([a], [b]) => (ORDER.indexOf(a) + 1 || 99) - (ORDER.indexOf(b) + 1 || 99))
    .map(([phase, n]) => `${n} ${phase}`);
  return [`simulated fleet: ${p.online}/${p.total} connected`, ...phases].join(' · ');
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return `${(bytes / 1024).toFixed(1)} KB`;
}
