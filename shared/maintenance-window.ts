import { createRequire } from 'node:module';
import type { CronExpressionParser as Parser } from 'cron-parser';
import type { MaintenanceWindow } from './schemas/desired-state.js';
import { WALL_SEARCH_MARGIN_MS, zone } from './wall-clock.js';

/**
 * Maintenance windows: a window opens at each match of its 5-field cron in
 * its IANA timezone and stays open for durationMinutes of elapsed time,
 * half-open [start, start + duration).
 *
 * cron-parser's own timezone mode gives answers that depend on where the
 * search starts around DST changes (its next() finds 02:30 on the
 * spring-forward day from midnight but not from 03:00; prev() skips it), so
 * the cron is matched in wall time (tz UTC) and each match is mapped to an
 * instant by wall-clock.ts:
 *   - spring forward: a skipped start moves forward by the gap (02:30 → 03:30
 *     CEST in Europe/Berlin), so a nightly window still opens that night;
 *   - fall back: a repeated start opens once, at its first occurrence
 *     (02:30 CEST), so a nightly window does not open twice. An hourly window
 *     therefore skips the repeated hour on that day.
 */

const MAX_MATCHES = 100_000;

const require = createRequire(import.meta.url);
let parser: typeof Parser | undefined;

/**
 * cron-parser, loaded on first use: with luxon it is ~1.5 MB of an agent's
 * memory, and most devices are never sent a maintenance window (issue 11).
 */
function cronParser(): typeof Parser {
  return (parser ??= (require('cron-parser') as typeof import('cron-parser')).CronExpressionParser);
}

/** Error message for a cron this module cannot use, or null. */
export function checkCron(cron: string): string | null {
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 5) return 'cron must have 5 fields: minute hour day-of-month month day-of-week';
  // Hashed fields (H) are random without a seed: windows must be deterministic.
  if (/\bH\b/i.test(cron)) return 'hashed cron fields (H) are not supported';
  try {
    cronParser().parse(cron, { tz: 'UTC', currentDate: new Date(Date.UTC(2000, 0, 1)) }).next();
  } catch (err) {
    return `invalid cron "${cron}": ${err instanceof Error ? err.message : String(err)}`;
  }
  return null;
}

/** The first window start strictly after `after`. */
export function nextWindowStart(window: MaintenanceWindow, after: Date): Date {
  const z = zone(window.timezone);
  const afterMs = after.getTime();
  const it = cronParser().parse(window.cron, {
    tz: 'UTC',
    currentDate: new Date(z.wall(afterMs) - WALL_SEARCH_MARGIN_MS),
  });
  // Wall → instant is monotone, so the first match past `after` is the earliest.
  for (let i = 0; i < MAX_MATCHES; i++) {
    const start = z.instant(it.next().toDate().getTime());
    if (start > afterMs) return new Date(start);
  }
  throw new Error(`maintenance window "${window.cron}" has no start after ${after.toISOString()}`);
}

/** Whether `at` lies inside an occurrence of the window. */
export function isInWindow(window: MaintenanceWindow, at: Date): boolean {
  const durationMs = window.durationMinutes * 60_000;
  // The only start that can cover `at` is the first one after at - duration.
  return nextWindowStart(window, new Date(at.getTime() - durationMs)).getTime() <= at.getTime();
}

/**
 * Memoised window checks for one planning pass: thousands of devices share a
 * handful of windows, so each (window, instant) is computed once.
 */
export function windowCache(at: Date): {
  isOpen(window: MaintenanceWindow): boolean;
  nextStart(window: MaintenanceWindow): Date;
} {
  const open = new Map<string, boolean>();
  const next = new Map<string, Date>();
  const key = (w: MaintenanceWindow): string => `${w.cron}|${w.durationMinutes}|${w.timezone}`;
  return {
    isOpen(w) {
      const k = key(w);
      let v = open.get(k);
      if (v === undefined) open.set(k, (v = isInWindow(w, at)));
      return v;
    },
    nextStart(w) {
      const k = key(w);
      let v = next.get(k);
      if (v === undefined) next.set(k, (v = nextWindowStart(w, at)));
      return v;
    },
  };
}
