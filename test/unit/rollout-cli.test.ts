import { describe, expect, it } from 'vitest';
import type { RolloutDetailBody, RolloutSummaryBody } from '../../cli/client/rollout-client.js';
import { countsText, failureLines, progressBar, watchFrame, watchLine } from '../../cli/output/rollout-view.js';
import { parseDuration, parseExponential, parseWaves, parseWindow, RolloutSpecError, specFromFile, specFromFlags, type RolloutFlags } from '../../cli/rollout-spec.js';
import { RolloutSpec } from '../../controller/rollout/model.js';

const flags = (over: Partial<RolloutFlags>): RolloutFlags => ({ device: [], canary: [], deviceWindow: [], ...over });

describe('rollout create flags', () => {
  it.each([
    ['90', 90],
    ['45s', 45],
    ['30m', 1800],
    ['2h', 7200],
    ['1d', 86_400],
  ])('duration %s = %i s', (text, seconds) => expect(parseDuration(text, '--device-timeout')).toBe(seconds));

  it('refuses malformed values, naming the flag', () => {
    expect(() => parseDuration('30 minutes', '--device-timeout')).toThrow(/--device-timeout must be a duration/);
    expect(() => parseWaves('1,,100%')).toThrow(/--waves/);
    expect(() => parseWaves('1,abc')).toThrow(/counts \(5\) or percentages/);
    expect(() => parseExponential('2')).toThrow(/INITIAL:FACTOR/);
    expect(() => parseWindow('0 2 * * *|two hours|UTC', '--window')).toThrow(/--window must be 'CRON\|MINUTES\|TIMEZONE'/);
    expect(() => specFromFlags(flags({ app: 'web', to: '2' }))).toThrow(/--selector SELECTOR or --device/);
    expect(() => specFromFlags(flags({ app: 'web', to: '2', selector: 'a=b', waves: '1', exponential: '1:2' }))).toThrow(/not both/);
    expect(() => specFromFlags(flags({ app: 'web', to: '2', selector: 'a=b', onFailure: 'panic' }))).toThrow(RolloutSpecError);
  });

  it('builds a spec the API accepts, leaving defaults to it', () => {
    const spec = specFromFlags(
      flags({
        app: 'web',
        to: '2.0.0',
        selector: 'role=kiosk',
        waves: '1,5%,25%,100%',
        canary: ['kiosk-1'],
        rate: '10',
        successThreshold: '95%',
        maxFailure: '5',
        minSample: '3',
        deviceTimeout: '30m',
        onFailure: 'rollback',
        startAt: '2026-12-01T02:00:00+01:00',
        window: '0 2 * * *|120|Europe/Berlin',
        deviceWindow: ['night=0 1 * * *|60|UTC'],
        id: 'web-2',
      }),
    );
    expect(spec).toEqual({
      id: 'web-2',
      app: 'web',
      toVersion: '2.0.0',
      target: { kind: 'selector', selector: 'role=kiosk' },
      waves: { kind: 'sizes', sizes: [1, '5%', '25%', '100%'] },
      canary: { devices: ['kiosk-1'] },
      ratePerMinute: 10,
      successThresholdPct: 95,
      maxFailurePct: 5,
      minSampleSize: 3,
      deviceTimeoutSeconds: 1800,
      failureAction: 'rollback',
      startAt: '2026-12-01T01:00:00.000Z',
      window: { cron: '0 2 * * *', durationMinutes: 120, timezone: 'Europe/Berlin' },
      windows: { night: { cron: '0 1 * * *', durationMinutes: 60, timezone: 'UTC' } },
    });
    expect(RolloutSpec.safeParse(spec).success).toBe(true);
    const minimal = specFromFlags(flags({ app: 'web', to: '2', device: ['a', 'b'], exponential: '1:2' }));
    expect(RolloutSpec.parse(minimal)).toMatchObject({ waves: { kind: 'exponential', initial: 1, factor: 2 }, target: { kind: 'devices', devices: ['a', 'b'] } });
  });

  it('reads a YAML spec file', () => {
    const spec = specFromFile(['app: web', 'toVersion: "2.0"', 'target: { kind: selector, selector: role=kiosk }', 'waves: { kind: sizes, sizes: [1, 50%, 100%] }', ''].join('\n'), 'r.yaml');
    expect(RolloutSpec.parse(spec)).toMatchObject({ toVersion: '2.0', waves: { sizes: [1, '50%', '100%'] } });
    expect(() => specFromFile('- a', 'r.yaml')).toThrow(/map of rollout fields/);
  });
});

describe('rollout watch output', () => {
  const counts = (c: Partial<RolloutSummaryBody['totals']>) => ({ pending: 0, notified: 0, applying: 0, succeeded: 0, failed: 0, timedOut: 0, ...c });
  const r: RolloutSummaryBody = {
    id: 'web-2',
    app: 'web',
    toVersion: '2',
    phase: 'running',
    currentWave: 1,
    reason: 'wave 0 passed: 1 of 1 devices succeeded (100%), threshold 100%',
    totals: counts({ succeeded: 2, applying: 1, pending: 2 }),
    lateSuccesses: 0,
    waves: [
      { index: 0, size: 1, canary: false, startedAt: 'x', evaluatedAt: 'y', outcome: 'passed', reason: null, manual: false, counts: counts({ succeeded: 1 }) },
      { index: 1, size: 2, canary: false, startedAt: 'x', evaluatedAt: null, outcome: null, reason: null, manual: false, counts: counts({ succeeded: 1, applying: 1 }) },
      { index: 2, size: 2, canary: false, startedAt: null, evaluatedAt: null, outcome: null, reason: null, manual: false, counts: counts({ pending: 2 }) },
    ],
    revision: 5,
    createdAt: '2026-06-01T10:00:00Z',
    updatedAt: '2026-06-01T10:00:00Z',
  };

  it('says what matters in one line per change', () => {
    expect(watchLine(r)).toBe('web-2 running at wave 1 of 3: w0 passed 1/1 ok; w1 running 1/2 ok, 1 applying; w2 waiting 0/2 ok');
    expect(countsText(counts({ succeeded: 3, failed: 1, timedOut: 1, pending: 1 }), 6)).toBe('3/6 ok, 1 failed, 1 timed out, 1 pending');
  });

  it('draws one bar per wave on a terminal', () => {
    expect(progressBar(counts({ succeeded: 1, applying: 1 }), 2, 10, false)).toBe('█████▒▒▒▒▒');
    expect(progressBar(counts({ succeeded: 2, failed: 1, pending: 1 }), 4, 8, false)).toBe('████▓▓··');
    const frame = watchFrame(r, { now: new Date(), color: false });
    expect(frame).toHaveLength(6);
    expect(frame[0]).toBe('Rollout web-2  web → 2  running  (wave 1 of 3, from 0)');
    expect(frame[2]).toContain('[████████████▒▒▒▒▒▒▒▒▒▒▒▒] 1/2 ok, 1 applying');
  });

  it('names the failed and timed-out devices with their reasons when a rollout stops', () => {
    const device = (deviceId: string, status: string, reason: string | null) => ({ deviceId, wave: 0, status, reason, version: 3, notifiedAt: 'x', succeededAt: null, lateSuccess: false });
    const stopped: RolloutDetailBody = {
      ...r,
      phase: 'paused',
      deploymentId: 'd',
      spec: {},
      waves: r.waves.map((w) => ({ ...w, devices: [] })),
      devices: [
        device('kiosk-1', 'succeeded', null),
        device('kiosk-2', 'failed', 'update rolled-back: container exited (code 1)'),
        device('kiosk-3', 'timed-out', 'not succeeded 120 s after notification'),
        ...Array.from({ length: 11 }, (_, i) => device(`bulk-${i}`, 'failed', null)),
      ],
    };
    const lines = failureLines(stopped);
    expect(lines[0]).toBe('Failed devices (13):');
    expect(lines[1]).toBe('  kiosk-2 (wave 0) failed: update rolled-back: container exited (code 1)');
    expect(lines[2]).toBe('  kiosk-3 (wave 0) timed-out: not succeeded 120 s after notification');
    expect(lines).toHaveLength(12);
    expect(lines[11]).toBe('  … and 3 more: outpost rollout show web-2');
    expect(failureLines({ ...stopped, devices: [device('kiosk-1', 'succeeded', null)] })).toEqual([]);
  });
});
