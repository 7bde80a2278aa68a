/** Small formatters for human output. Pure: time comes in as `now`. */

/** What every human view needs: the time "ago" is relative to, and whether to colour. */
export interface ViewOptions {
  now: Date;
  color: boolean;
}

const UNITS: [number, string][] = [
  [86_400_000, 'd'],
  [3_600_000, 'h'],
  [60_000, 'm'],
  [1_000, 's'],
];

/** "3m", "2h", "5d": the largest whole unit of a duration. */
export function formatDuration(ms: number): string {
  const abs = Math.abs(ms);
  for (const [size, unit] of UNITS) if (abs >= size) return `${Math.floor(abs / size)}${unit}`;
  return `${Math.floor(abs)}ms`;
}

/** "never", "just now", "3m ago"; a clock slightly ahead of ours is still "just now". */
export function formatAgo(iso: string | null | undefined, now: Date): string {
  if (!iso) return 'never';
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const ms = now.getTime() - at;
  if (ms < 1_000 && ms > -5_000) return 'just now';
  return ms < 0 ? `in ${formatDuration(ms)}` : `${formatDuration(ms)} ago`;
}

/** "2026-03-01 10:04:05Z (3m ago)". */
export function formatTime(iso: string | null | undefined, now: Date): string {
  if (!iso) return 'never';
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  return `${at.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z')} (${formatAgo(iso, now)})`;
}

export function formatVersion(version: number | null | undefined): string {
  return version === null || version === undefined ? '-' : `v${version}`;
}

export function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}

/** "role=kiosk,site=a" sorted by key, "-" when there are none. */
export function formatLabels(labels: Readonly<Record<string, string>>, separator = ','): string {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(separator) : '-';
}

/** "a, b, c" or "a, b, c and 7 more"; "-" when empty. */
export function formatList(items: readonly string[], max = 10): string {
  if (items.length === 0) return '-';
  const shown = items.slice(0, max).join(', ');
  return items.length > max ? `${shown} and ${items.length - max} more` : shown;
}

export function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}

export function formatTarget(target: { kind: string; selector?: unknown; devices?: unknown }): string {
  if (target.kind === 'selector' && typeof target.selector === 'string') return target.selector;
  if (target.kind === 'devices' && Array.isArray(target.devices)) return `devices: ${formatList(target.devices.map(String), 5)}`;
  return target.kind;
}

/** Shortens a `sha256:…` digest for tables. */
export function shortDigest(digest: string): string {
  const hex = digest.replace(/^sha256:/, '');
  return hex.slice(0, 12);
}
