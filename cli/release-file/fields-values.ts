import { describe } from './format.js';
import type { Issues } from './types.js';

export function list(value: unknown, here: string, issues: Issues): unknown[] {
  if (Array.isArray(value)) return value;
  issues.push(`${here}: expected a list, got ${describe(value)}`);
  return [];
}

export function number(value: unknown, here: string, issues: Issues): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n === 'number' && Number.isFinite(n)) return n;
  issues.push(`${here}: expected a number, got ${describe(value)}`);
  return undefined;
}

/** -1 and 0 mean "no limit" in compose, which is what leaving it out means here. */
export function pidsLimit(value: unknown, here: string, issues: Issues): number | undefined {
  const n = number(value, here, issues);
  return n === undefined || n <= 0 ? undefined : n;
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Compose byte values: a number of bytes or "256m", "1g", "512kb", "64MiB" (binary multiples). */
export function parseBytes(value: unknown): number | null {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : null;
  if (typeof value !== 'string') return null;
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?$/i.exec(value.trim());
  const unit = UNITS[(m?.[2] ?? '').toLowerCase()];
  return m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : null;
}

export function bytes(value: unknown, here: string, issues: Issues): number | undefined {
  const n = parseBytes(value);
  if (n === null) issues.push(`${here}: ${describe(value)} is not a size; use bytes or a number with b, k, m or g (e.g. 256m)`);
  return n ?? undefined;
}

const DURATION_UNITS: Record<string, number> = { us: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/** Compose durations ("10s", "1m30s", "1.5s") or a number of seconds, rounded up to whole seconds. */
export function parseDurationSeconds(value: unknown): number | null {
  if (typeof value === 'number') return value >= 0 ? Math.ceil(value) : null;
  if (typeof value !== 'string' || !/^(\d+(\.\d+)?(us|ms|s|m|h))+$/.test(value.trim())) return null;
  let total = 0;
  for (const m of value.trim().matchAll(/(\d+(?:\.\d+)?)(us|ms|s|m|h)/g)) total += Number(m[1]) * (DURATION_UNITS[m[2] ?? 's'] ?? 1);
  return Math.ceil(Math.round(total * 1000) / 1000);
}

export function seconds(value: unknown, here: string, issues: Issues): number | undefined {
  const n = parseDurationSeconds(value);
  if (n === null) issues.push(`${here}: ${describe(value)} is not a duration; use e.g. 10s or 1m30s`);
  return n ?? undefined;
}
