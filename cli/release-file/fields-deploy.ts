import { bytes, number, pidsLimit } from './fields-values.js';
import { formatPath } from './format.js';
import { isRecord, type Issues, type Path, type Resources } from './types.js';

/** Compose `deploy:`: only `resources.limits` (memory, cpus, pids) has a meaning on a device. */
export function deployLimits(value: unknown, at: Path, issues: Issues, set: (f: keyof Resources, v: number | undefined, at: Path) => void): void {
  const here = formatPath(at);
  if (!isRecord(value)) {
    issues.push(`${here}: expected a map`);
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    if (k !== 'resources' || !isRecord(v)) {
      issues.push(`${here}.${k}: not supported by Outpost (only deploy.resources.limits is)`);
      continue;
    }
    for (const [rk, limits] of Object.entries(v)) {
      if (rk !== 'limits' || !isRecord(limits)) {
        issues.push(`${here}.resources.${rk}: not supported by Outpost (only limits is)`);
        continue;
      }
      for (const [lk, lv] of Object.entries(limits)) {
        const lat = [...at, 'resources', 'limits', lk];
        if (lk === 'memory') set('memoryBytes', bytes(lv, formatPath(lat), issues), lat);
        else if (lk === 'cpus') set('cpus', number(lv, formatPath(lat), issues), lat);
        else if (lk === 'pids') set('pidsLimit', pidsLimit(lv, formatPath(lat), issues), lat);
        else issues.push(`${formatPath(lat)}: not supported (use memory, cpus, pids)`);
      }
    }
  }
}
