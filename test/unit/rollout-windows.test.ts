import { describe, expect, it } from 'vitest';
import { MaintenanceWindow, RolloutSpec } from '../../controller/rollout/model.js';
import { isValidTimeZone, zone } from '../../shared/wall-clock.js';
import { checkCron, isInWindow, nextWindowStart, windowFor } from '../../controller/rollout/windows.js';

const berlin = (cron: string, durationMinutes = 60): MaintenanceWindow => ({ cron, durationMinutes, timezone: 'Europe/Berlin' });
const newYork = (cron: string, durationMinutes = 60): MaintenanceWindow => ({ cron, durationMinutes, timezone: 'America/New_York' });
const d = (iso: string): Date => new Date(iso);

// 2026 changes: Berlin springs forward 29 Mar 01:00Z (02:00 CET → 03:00 CEST) and falls back 25 Oct 01:00Z
// (03:00 CEST → 02:00 CET); New York springs forward 8 Mar 07:00Z and falls back 1 Nov 06:00Z.
describe('nextWindowStart across DST changes', () => {
  const table: [string, MaintenanceWindow, string, string][] = [
    ['Berlin nightly 02:30, ordinary night (CET)', berlin('30 2 * * *'), '2026-03-27T12:00:00Z', '2026-03-28T01:30:00.000Z'],
    ['Berlin 02:30 on spring-forward day → 03:30 CEST', berlin('30 2 * * *'), '2026-03-28T12:00:00Z', '2026-03-29T01:30:00.000Z'],
    ['… found from 03:00 CEST too (cron-parser alone skips it)', berlin('30 2 * * *'), '2026-03-29T01:00:00Z', '2026-03-29T01:30:00.000Z'],
    ['… and the night after is 02:30 CEST', berlin('30 2 * * *'), '2026-03-29T01:30:00Z', '2026-03-30T00:30:00.000Z'],
    ['Berlin 02:00 (start of the gap) → 03:00 CEST', berlin('0 2 * * *'), '2026-03-28T12:00:00Z', '2026-03-29T01:00:00.000Z'],
    ['Berlin 02:30 on fall-back day → first occurrence (CEST)', berlin('30 2 * * *'), '2026-10-24T12:00:00Z', '2026-10-25T00:30:00.000Z'],
    ['… not again at 02:30 CET', berlin('30 2 * * *'), '2026-10-25T00:30:00Z', '2026-10-26T01:30:00.000Z'],
    ['… not even when asked from inside the repeated hour', berlin('30 2 * * *'), '2026-10-25T01:00:00Z', '2026-10-26T01:30:00.000Z'],
    ['New York 02:30 on spring-forward day → 03:30 EDT', newYork('30 2 * * *'), '2026-03-07T12:00:00Z', '2026-03-08T07:30:00.000Z'],
    ['New York 02:30 the day after (EDT)', newYork('30 2 * * *'), '2026-03-08T07:30:00Z', '2026-03-09T06:30:00.000Z'],
    ['New York 01:30 on fall-back day → first occurrence (EDT)', newYork('30 1 * * *'), '2026-10-31T12:00:00Z', '2026-11-01T05:30:00.000Z'],
    ['… then 01:30 EST the next day, skipping 06:30Z', newYork('30 1 * * *'), '2026-11-01T05:30:00Z', '2026-11-02T06:30:00.000Z'],
    ['weekdays only: Saturday → Monday', berlin('0 22 * * 1-5'), '2026-03-28T12:00:00Z', '2026-03-30T20:00:00.000Z'],
    ['strictly after: a start equal to `after` is not returned', berlin('0 22 * * *'), '2026-03-30T20:00:00Z', '2026-03-31T20:00:00.000Z'],
  ];
  it.each(table)('%s', (_name, window, after, expected) => {
    expect(nextWindowStart(window, d(after)).toISOString()).toBe(expected);
  });
});

describe('isInWindow across DST changes (half-open [start, start + duration), elapsed minutes)', () => {
  const table: [string, MaintenanceWindow, string, boolean][] = [
    ['Berlin 02:30 spring day: 03:00 CEST is before the shifted start', berlin('30 2 * * *'), '2026-03-29T01:00:00Z', false],
    ['… 03:30 CEST opens', berlin('30 2 * * *'), '2026-03-29T01:30:00Z', true],
    ['… 04:29:59 CEST still open', berlin('30 2 * * *'), '2026-03-29T02:29:59Z', true],
    ['… 04:30 CEST closed', berlin('30 2 * * *'), '2026-03-29T02:30:00Z', false],
    ['Berlin 01:00 for 3 h across the gap: closes 3 elapsed hours later (05:00 CEST)', berlin('0 1 * * *', 180), '2026-03-29T02:59:00Z', true],
    ['… and not a minute of wall time more', berlin('0 1 * * *', 180), '2026-03-29T03:00:00Z', false],
    ['Berlin 02:30 fall-back day: open at 02:45 CEST', berlin('30 2 * * *'), '2026-10-25T00:45:00Z', true],
    ['… still open at 02:15 CET (60 elapsed minutes not over)', berlin('30 2 * * *'), '2026-10-25T01:15:00Z', true],
    ['… closed at the second 02:30 (CET)', berlin('30 2 * * *'), '2026-10-25T01:30:00Z', false],
    ['… closed at 02:45 CET', berlin('30 2 * * *'), '2026-10-25T01:45:00Z', false],
    ['New York 02:30 spring day: open at 03:45 EDT', newYork('30 2 * * *'), '2026-03-08T07:45:00Z', true],
    ['New York 02:30 spring day: closed at 03:15 EDT', newYork('30 2 * * *'), '2026-03-08T07:15:00Z', false],
    ['New York 01:30 fall-back: open at 01:40 EDT', newYork('30 1 * * *'), '2026-11-01T05:40:00Z', true],
    ['New York 01:30 fall-back: closed at 01:40 EST', newYork('30 1 * * *'), '2026-11-01T06:40:00Z', false],
    ['window spanning midnight, day after', berlin('0 23 * * *', 120), '2026-06-01T22:30:00Z', true],
    ['full-day window is always open', berlin('0 0 * * *', 1440), '2026-06-01T13:37:00Z', true],
  ];
  it.each(table)('%s', (_name, window, at, expected) => {
    expect(isInWindow(window, d(at))).toBe(expected);
  });
});

describe('wall clock', () => {
  it('maps wall times to instants with Temporal "compatible" disambiguation', () => {
    const z = zone('Europe/Berlin');
    expect(new Date(z.instant(Date.UTC(2026, 2, 29, 2, 30))).toISOString()).toBe('2026-03-29T01:30:00.000Z'); // gap → forward
    expect(new Date(z.instant(Date.UTC(2026, 9, 25, 2, 30))).toISOString()).toBe('2026-10-25T00:30:00.000Z'); // overlap → earlier
    expect(new Date(z.instant(Date.UTC(2026, 6, 1, 12, 0))).toISOString()).toBe('2026-07-01T10:00:00.000Z');
    expect(new Date(z.wall(Date.parse('2026-10-25T01:30:00.250Z'))).toISOString()).toBe('2026-10-25T02:30:00.250Z');
  });

  it.each([
    ['Europe/Berlin', true],
    ['America/New_York', true],
    ['UTC', true],
    ['Mars/Olympus_Mons', false],
    ['', false],
    ['+01:00 nonsense', false],
  ])('timezone %j valid: %s', (tz, ok) => {
    expect(isValidTimeZone(tz)).toBe(ok);
  });
});

describe('window schema', () => {
  it.each([
    ['0 2 * * *', null],
    ['*/15 1-4 * * mon-fri', null],
    ['0 2 * * THU', null],
    ['0 2 * * * *', /5 fields/],
    ['@daily', /5 fields/],
    ['H 2 * * *', /hashed/],
    ['60 2 * * *', /invalid cron/],
    ['0 0 30 2 *', /invalid cron/],
  ])('cron %j', (cron, expected) => {
    const error = checkCron(cron);
    if (expected === null) expect(error).toBeNull();
    else expect(error).toMatch(expected);
  });

  it('names the field that is wrong', () => {
    const r = MaintenanceWindow.safeParse({ cron: 'H 2 * * *', durationMinutes: 0, timezone: 'Nowhere/Atlantis' });
    expect(r.success).toBe(false);
    const paths = r.error?.issues.map((i) => i.path.join('.')) ?? [];
    expect(paths).toContain('durationMinutes');
    const r2 = MaintenanceWindow.safeParse({ cron: 'H 2 * * *', durationMinutes: 30, timezone: 'Nowhere/Atlantis' });
    expect(r2.error?.issues.map((i) => i.path.join('.')).sort()).toEqual(['cron', 'timezone']);
  });
});

describe('windowFor', () => {
  const spec = RolloutSpec.parse({
    app: 'web',
    toVersion: '2.0.0',
    target: { kind: 'selector', selector: 'role=kiosk' },
    waves: { kind: 'sizes', sizes: ['100%'] },
    window: berlin('0 2 * * *'),
    windows: { night: newYork('0 3 * * *'), weekend: berlin('0 10 * * 6') },
  });
  it.each([
    ['named window by label', { 'maintenance-window': 'night' }, newYork('0 3 * * *')],
    ['rollout-wide window without label', { site: 'a' }, berlin('0 2 * * *')],
    ['unknown name falls back to the rollout-wide window', { 'maintenance-window': 'never' }, berlin('0 2 * * *')],
  ])('%s', (_name, labels, expected) => {
    expect(windowFor(spec, labels)).toEqual(expected);
  });

  it('no window at all means always allowed (null)', () => {
    const open = RolloutSpec.parse({ ...spec, window: undefined, windows: {} });
    expect(windowFor(open, { 'maintenance-window': 'night' })).toBeNull();
  });

  it('uses a custom label key', () => {
    const custom = RolloutSpec.parse({ ...spec, deviceWindowLabel: 'site-window' });
    expect(windowFor(custom, { 'site-window': 'weekend' })).toEqual(berlin('0 10 * * 6'));
  });
});
