/**
 * Local wall-clock time in an IANA timezone, with Intl only (no tz library).
 *
 * A "wall" value is a naive epoch: the UTC instant whose calendar fields equal
 * the local date and time. Cron expressions are matched in wall time, then each
 * match is mapped back to an instant with Temporal's `compatible`
 * disambiguation:
 *   - a wall time skipped by a spring-forward change moves forward by the gap
 *     (02:30 on the day Berlin jumps 02:00 → 03:00 becomes 03:30 CEST);
 *   - a wall time repeated by a fall-back change takes its first occurrence
 *     (02:30 CEST, not 02:30 CET an hour later).
 * Mapping is therefore monotone non-decreasing, which windows.ts relies on.
 */

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export interface Zone {
  readonly timeZone: string;
  /** Wall time (naive epoch ms) of an instant. */
  wall(instantMs: number): number;
  /** The instant of a wall time, `compatible` disambiguation (see above). */
  instant(wallMs: number): number;
}

export function isValidTimeZone(timeZone: string): boolean {
  if (timeZone.length === 0 || timeZone.length > 64) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone }).format(0);
    return true;
  } catch {
    return false;
  }
}

/** Throws RangeError for an unknown timezone. */
export function zone(timeZone: string): Zone {
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });

  const wall = (instantMs: number): number => {
    const ms = ((instantMs % 1000) + 1000) % 1000;
    const f: Record<string, number> = {};
    for (const p of fmt.formatToParts(instantMs - ms)) {
      if (p.type !== 'literal') f[p.type] = Number(p.value);
    }
    const utc = Date.UTC(f.year ?? 1970, (f.month ?? 1) - 1, f.day ?? 1, f.hour ?? 0, f.minute ?? 0, f.second ?? 0);
    return utc + ms;
  };

  const offset = (instantMs: number): number => wall(instantMs) - instantMs;

  const instant = (wallMs: number): number => {
    // Offsets a day either side bracket any single transition near this wall time.
    const before = offset(wallMs - DAY_MS);
    const after = offset(wallMs + DAY_MS);
    const candidates = [wallMs - before, wallMs - after].filter((t) => wall(t) === wallMs).sort((a, b) => a - b);
    const first = candidates[0];
    if (first !== undefined) return first;
    // In a gap: keep the offset in force before the change, i.e. move forward by the gap.
    return wallMs - before;
  };

  return { timeZone, wall, instant };
}

/** Margin that covers the largest offset change of any zone (2 h) when searching in wall time. */
export const WALL_SEARCH_MARGIN_MS = 3 * HOUR_MS;
