import { isValidTimeZone } from '../../shared/wall-clock.js';
import { usageError } from './command-context.js';

export interface ApplyPolicyFlags {
  window?: string;
  windowDuration?: string;
  timezone?: string;
  after?: string;
  force?: boolean;
}

export interface ApplyPolicyBody {
  window?: { cron: string; durationMinutes: number; timezone: string };
  after?: string;
  force?: boolean;
}

const WITH_OFFSET = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/i;

/**
 * `deploy`'s --window/--window-duration/--timezone/--after/--force as the
 * deployment's `apply` (DD-040); undefined when none is given. The API checks
 * the cron; what is wrong with the flags themselves is said here, by flag.
 */
export function applyPolicyFromFlags(f: ApplyPolicyFlags): ApplyPolicyBody | undefined {
  const policy: ApplyPolicyBody = {};
  if (f.window !== undefined) policy.window = windowFromFlags(f.window, f.windowDuration, f.timezone);
  else if (f.windowDuration !== undefined || f.timezone !== undefined) throw usageError('--window-duration and --timezone belong to --window CRON');
  if (f.after !== undefined) {
    if (!WITH_OFFSET.test(f.after.trim()) || Number.isNaN(Date.parse(f.after))) {
      throw usageError(`--after must be a time with its offset, e.g. 2026-12-01T02:00:00Z or 2026-12-01T03:00:00+01:00, got ${JSON.stringify(f.after)}`);
    }
    policy.after = new Date(f.after).toISOString();
  }
  if (f.force) policy.force = true;
  return Object.keys(policy).length ? policy : undefined;
}

function windowFromFlags(window: string, duration: string | undefined, timezone: string | undefined): NonNullable<ApplyPolicyBody['window']> {
  // Also the rollout's 'CRON|MINUTES|TZ' form, so one window string works for both commands.
  const parts = window.split('|').map((s) => s.trim());
  if (parts.length === 3) {
    if (duration !== undefined || timezone !== undefined) throw usageError("--window 'CRON|MINUTES|TZ' already says the duration and timezone; drop --window-duration and --timezone");
    return windowFromFlags(parts[0] ?? '', parts[1], parts[2]);
  }
  if (parts.length !== 1) throw usageError(`--window is a 5-field cron, e.g. "0 2 * * *" (or 'CRON|MINUTES|TZ'), got ${JSON.stringify(window)}`);
  const cron = window.trim();
  if (cron.split(/\s+/).length !== 5) throw usageError(`--window must be a 5-field cron (minute hour day-of-month month day-of-week), e.g. "0 2 * * *", got ${JSON.stringify(window)}`);
  if (duration === undefined) throw usageError('--window needs --window-duration MINUTES: how long the window stays open after each start');
  if (!/^\d+$/.test(duration.trim()) || Number(duration) < 1 || Number(duration) > 1440) {
    throw usageError(`--window-duration must be whole minutes from 1 to 1440, got ${JSON.stringify(duration)}`);
  }
  const tz = timezone?.trim() || 'UTC';
  if (!isValidTimeZone(tz)) throw usageError(`--timezone must be an IANA timezone, e.g. Europe/Berlin or UTC, got ${JSON.stringify(timezone)}`);
  return { cron, durationMinutes: Number(duration), timezone: tz };
}
