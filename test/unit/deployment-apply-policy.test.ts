import { describe, expect, it } from 'vitest';
import { normalizeApplyPolicy } from '../../controller/model/apply-policy.js';
import { DeploymentInput } from '../../controller/model/deployment.js';
import { applyPolicyFromFlags } from '../../cli/commands/apply-policy-flags.js';

const base = { app: 'kiosk', version: '1', target: { kind: 'selector', selector: 'role=kiosk' } } as const;
const issues = (apply: unknown): string[] => {
  const r = DeploymentInput.safeParse({ ...base, apply });
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('deployment apply policy validation (DD-040)', () => {
  it('accepts a window, an after with an offset, and force', () => {
    expect(issues({ window: { cron: '0 2 * * 1-5', durationMinutes: 120, timezone: 'Europe/Berlin' }, after: '2026-12-01T03:00:00+01:00', force: true })).toEqual([]);
  });

  it.each<[string, unknown, string]>([
    ['an unknown timezone', { window: { cron: '0 2 * * *', durationMinutes: 60, timezone: 'Mars/Olympus' } }, 'apply.window.timezone: unknown IANA timezone "Mars/Olympus"'],
    ['a cron that does not parse', { window: { cron: '0 25 * * *', durationMinutes: 60, timezone: 'UTC' } }, 'apply.window.cron: invalid cron "0 25 * * *"'],
    ['a cron with 6 fields', { window: { cron: '0 0 2 * * *', durationMinutes: 60, timezone: 'UTC' } }, 'apply.window.cron: cron must have 5 fields'],
    ['a duration over a day', { window: { cron: '0 2 * * *', durationMinutes: 1441, timezone: 'UTC' } }, 'apply.window.durationMinutes'],
    ['a time without offset', { after: '2026-12-01T02:00:00' }, 'apply.after'],
    ['an unknown field', { windows: {} }, 'apply'],
  ])('refuses %s', (_name, apply, message) => {
    expect(issues(apply).join('\n')).toContain(message);
  });

  it('normalises: an empty policy is none, after is stored in UTC, force false is dropped', () => {
    expect(normalizeApplyPolicy({})).toBeUndefined();
    expect(normalizeApplyPolicy({ force: false })).toBeUndefined();
    expect(normalizeApplyPolicy({ after: '2026-12-01T03:00:00+01:00', force: true })).toEqual({ after: '2026-12-01T02:00:00.000Z', force: true });
  });
});

describe('deploy --window/--after/--force', () => {
  it.each<[string, Parameters<typeof applyPolicyFromFlags>[0], ReturnType<typeof applyPolicyFromFlags>]>([
    ['no flags: no policy', {}, undefined],
    ['window with duration, UTC by default', { window: '0 2 * * *', windowDuration: '120' }, { window: { cron: '0 2 * * *', durationMinutes: 120, timezone: 'UTC' } }],
    ['window in a timezone', { window: '0 2 * * *', windowDuration: '90', timezone: 'Europe/Berlin' }, { window: { cron: '0 2 * * *', durationMinutes: 90, timezone: 'Europe/Berlin' } }],
    ["the rollout's CRON|MINUTES|TZ form", { window: '0 2 * * *|120|Europe/Berlin' }, { window: { cron: '0 2 * * *', durationMinutes: 120, timezone: 'Europe/Berlin' } }],
    ['after, in UTC', { after: '2026-12-01T03:00:00+01:00' }, { after: '2026-12-01T02:00:00.000Z' }],
    ['force', { force: true }, { force: true }],
  ])('%s', (_name, flags, expected) => {
    expect(applyPolicyFromFlags(flags)).toEqual(expected);
  });

  it.each<[string, Parameters<typeof applyPolicyFromFlags>[0], string]>([
    ['a window without duration', { window: '0 2 * * *' }, '--window needs --window-duration MINUTES'],
    ['a duration without window', { windowDuration: '60' }, '--window-duration and --timezone belong to --window CRON'],
    ['a 6-field cron', { window: '0 0 2 * * *', windowDuration: '60' }, '--window must be a 5-field cron'],
    ['a duration of 0', { window: '0 2 * * *', windowDuration: '0' }, '--window-duration must be whole minutes from 1 to 1440'],
    ['an unknown timezone', { window: '0 2 * * *', windowDuration: '60', timezone: 'Europe/Berln' }, '--timezone must be an IANA timezone'],
    ['an after without offset', { after: '2026-12-01 02:00' }, '--after must be a time with its offset'],
  ])('refuses %s', (_name, flags, message) => {
    expect(() => applyPolicyFromFlags(flags)).toThrow(message);
  });
});
