export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export function time(iso: string): string {
  return new Date(iso).toLocaleString();
}

export function labelsText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i] ?? 'B'}`;
}

/** Versions the device is behind its desired state; null when either is unknown. */
export function lag(desired: number | null, applied: number | null): number | null {
  if (desired === null) return null;
  return desired - (applied ?? 0);
}

export function phaseKind(phase: string): string {
  if (phase === 'converged') return 'ok';
  if (phase === 'failed' || phase === 'degraded' || phase === 'rolled-back') return 'bad';
  if (phase === 'applying' || phase === 'deferred') return 'warn';
  return 'muted';
}
