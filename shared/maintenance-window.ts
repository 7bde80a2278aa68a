import { CronExpressionParser } from 'cron-parser';
import type { MaintenanceWindow } from './schemas/desired-state.js';

/**
 * Maintenance windows: open at each cron occurrence in the window's IANA
 * timezone, for durationMinutes. Occurrences are computed by cron-parser in
 * local wall time, so "02:00 every night" stays 02:00 local across DST
 * changes (a wall time skipped by spring-forward has no occurrence that day).
 */
export function windowOpenAt(window: MaintenanceWindow, at: Date): boolean {
  return lastStart(window, at) !== null;
}

/** When the window next opens after `after` (now, if it is open now). */
export function nextWindowStart(window: MaintenanceWindow, after: Date): Date {
  if (windowOpenAt(window, after)) return after;
  const it = CronExpressionParser.parse(window.cron, { currentDate: after, tz: window.timezone });
  return it.next().toDate();
}

/** The start of the occurrence that is open at `at`, or null when closed. */
export function lastStart(window: MaintenanceWindow, at: Date): Date | null {
  const it = CronExpressionParser.parse(window.cron, { currentDate: new Date(at.getTime() + 1), tz: window.timezone });
  const start = it.prev().toDate();
  return at.getTime() - start.getTime() < window.durationMinutes * 60_000 ? start : null;
}

/** Validates a window: the cron parses and the timezone exists. Returns an error message or null. */
export function checkWindow(window: MaintenanceWindow): string | null {
  try {
    new Intl.DateTimeFormat('en', { timeZone: window.timezone });
  } catch {
    return `unknown timezone ${window.timezone}`;
  }
  try {
    CronExpressionParser.parse(window.cron, { tz: window.timezone });
  } catch (err) {
    return `invalid cron "${window.cron}": ${(err as Error).message}`;
  }
  return null;
}
