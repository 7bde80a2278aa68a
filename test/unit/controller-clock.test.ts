import { describe, expect, it } from 'vitest';
import { ExpiryWatch, type Staleness } from '../../agent/apply/expiry-watch.js';
import { decideWindow } from '../../agent/apply/apply-decision.js';
import { ControllerClock, MAX_MIDPOINT_RTT_MS, type ClockReading } from '../../agent/clock/controller-clock.js';
import { DesiredState } from '../../shared/schemas/desired-state.js';
import type { Clock } from '../../shared/clock.js';

const CONTROLLER = Date.parse('2026-12-01T12:00:00.000Z');
const HOUR = 3_600_000;

/** A device clock that only moves when the test says so. */
function deviceClock(startMs: number): Clock & { advance(ms: number): void } {
  let t = startMs;
  return {
    now: () => t,
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => clearTimeout(h),
    advance: (ms) => {
      t += ms;
    },
  };
}

function rig(deviceStartMs: number): { clock: ControllerClock; device: ReturnType<typeof deviceClock>; readings: [ClockReading, number][] } {
  const device = deviceClock(deviceStartMs);
  const readings: [ClockReading, number][] = [];
  const clock = new ControllerClock(device, (r, shift) => readings.push([r, shift]));
  return { clock, device, readings };
}

const msg = (atMs: number, epoch: number | null) => ({ protocol: 1 as const, deviceId: 'dev-1', at: new Date(atMs).toISOString(), epoch });

describe('ControllerClock (DD-052)', () => {
  it('is the device clock until a reading exists', () => {
    const { clock } = rig(CONTROLLER + HOUR);
    expect(clock.current).toBeNull();
    expect(clock.now()).toBe(CONTROLLER + HOUR);
  });

  it.each([
    ['an hour ahead', HOUR],
    ['an hour behind', -HOUR],
    ['on time', 0],
  ])('a device %s reads the skew at the midpoint of its presence round trip', (_name, skew) => {
    const { clock, device, readings } = rig(CONTROLLER + skew);
    clock.onlineSent(7);
    device.advance(400);
    // The controller answered 150 ms after the presence left (its clock), the answer took 250 ms back.
    clock.observe(msg(CONTROLLER + 150, 7));
    expect(clock.current).toEqual({ skewMs: skew + 50, rttMs: 400, measuredAt: new Date(CONTROLLER + 150).toISOString() });
    expect(clock.now()).toBe(CONTROLLER + 400 - 50);
    expect(readings).toEqual([[clock.current, -(skew + 50)]]);
  });

  it('takes an answer to another connection, or one with a long round trip, one-way', () => {
    const { clock, device } = rig(CONTROLLER + HOUR);
    clock.onlineSent(3);
    device.advance(200);
    clock.observe(msg(CONTROLLER + 100, 2));
    expect(clock.current).toMatchObject({ skewMs: HOUR + 100, rttMs: null });
    device.advance(MAX_MIDPOINT_RTT_MS);
    clock.observe(msg(CONTROLLER + MAX_MIDPOINT_RTT_MS + 200, 3));
    expect(clock.current).toMatchObject({ skewMs: HOUR, rttMs: null });
    clock.observe(msg(CONTROLLER + MAX_MIDPOINT_RTT_MS + 200, null));
    expect(clock.current).toMatchObject({ skewMs: HOUR, rttMs: null });
  });

  it('restores a kept reading and reports how far a new one moves the corrected time', () => {
    const { clock, readings } = rig(CONTROLLER - HOUR);
    clock.restore({ skewMs: -HOUR + 2000, rttMs: 10, measuredAt: new Date(CONTROLLER).toISOString() });
    expect(clock.now()).toBe(CONTROLLER - 2000);
    clock.observe(msg(CONTROLLER, null));
    expect(clock.now()).toBe(CONTROLLER);
    expect(readings.at(-1)?.[1]).toBe(2000);
  });

  it.each([
    ['ahead', HOUR],
    ['behind', -HOUR],
  ])('an hour %s, a signed document valid for 30 more minutes of controller time is not stale; one expired 30 minutes ago is', (_n, skew) => {
    const { clock } = rig(CONTROLLER + skew);
    clock.observe(msg(CONTROLLER, null));
    const seen: (Staleness | null)[] = [];
    const watch = new ExpiryWatch(clock, (s) => seen.push(s));
    watch.track(4, new Date(CONTROLLER + HOUR / 2).toISOString());
    expect(watch.stale).toBeNull();
    watch.track(5, new Date(CONTROLLER - HOUR / 2).toISOString());
    expect(watch.stale).toMatchObject({ version: 5 });
    watch.stop();
  });

  it('an hour ahead, `apply.after` 10 minutes away on the controller clock is still 10 minutes away', () => {
    const { clock } = rig(CONTROLLER + HOUR);
    clock.observe(msg(CONTROLLER, null));
    const after = new Date(CONTROLLER + 600_000).toISOString();
    const doc = DesiredState.parse({ protocol: 1, deviceId: 'dev-1', version: 2, issuedAt: new Date(CONTROLLER).toISOString(), workloads: {}, apply: { after } });
    expect(decideWindow(doc, new Date(clock.now()))).toEqual({ apply: false, reason: 'window', until: new Date(after) });
    // Uncorrected, the device would have applied at once.
    expect(decideWindow(doc, new Date(CONTROLLER + HOUR))).toEqual({ apply: true });
  });
});
