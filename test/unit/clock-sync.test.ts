import { describe, expect, it } from 'vitest';
import { CLOCK_WAIT_MS, ClockSync } from '../../agent/clock/clock-sync.js';
import type { ClockReading } from '../../agent/clock/controller-clock.js';
import { captureLogs } from '../helpers/log-capture.js';
import { ManualClock } from '../helpers/manual-clock.js';

const DEVICE = 'dev-1';
const HOUR = 3_600_000;

function rig(refreshMs = 0): { sync: ClockSync; clock: ManualClock; saved: ClockReading[]; shifts: number[]; announced: number[]; logs: ReturnType<typeof captureLogs>['logs'] } {
  const clock = new ManualClock(Date.parse('2026-12-01T12:00:00.000Z'));
  const { logger, logs } = captureLogs();
  const saved: ClockReading[] = [];
  const shifts: number[] = [];
  const announced: number[] = [];
  const sync = new ClockSync({
    deviceId: DEVICE,
    clock,
    logger,
    refreshMs,
    save: (r) => saved.push(r),
    announce: () => announced.push(clock.now()),
    onShift: () => shifts.push(clock.now()),
  });
  return { sync, clock, saved, shifts, announced, logs };
}

/** A ControllerTime message saying the controller's clock reads `atMs`. */
const controllerTime = (atMs: number, deviceId = DEVICE): Buffer =>
  Buffer.from(JSON.stringify({ protocol: 1, deviceId, at: new Date(atMs).toISOString(), epoch: null }));

describe('ClockSync (DD-052, DD-061)', () => {
  it('takes a reading into the corrected clock, keeps it, and re-times on the first one', () => {
    const { sync, clock, saved, shifts } = rig();
    sync.handle(controllerTime(clock.now() - HOUR));
    expect(sync.time.now()).toBe(clock.now() - HOUR);
    expect(saved).toEqual([expect.objectContaining({ skewMs: HOUR, rttMs: null })]);
    expect(shifts).toHaveLength(1);
  });

  it('re-times only when a later reading moves the clock by a second or more', async () => {
    const { sync, clock, saved, shifts } = rig();
    sync.handle(controllerTime(clock.now()));
    await clock.advance(60_000);
    sync.handle(controllerTime(clock.now() - 400));
    expect(saved).toHaveLength(2);
    expect(shifts).toHaveLength(1);
    await clock.advance(60_000);
    sync.handle(controllerTime(clock.now() - 5_000));
    expect(saved).toHaveLength(3);
    expect(shifts).toHaveLength(2);
  });

  it('a reading restored from disk counts as the first: a close one after it does not re-time', () => {
    const { sync, clock, shifts, saved } = rig();
    sync.restore({ skewMs: 200, rttMs: 40, measuredAt: new Date(clock.now() - HOUR).toISOString() });
    expect(sync.time.now()).toBe(clock.now() - 200);
    sync.handle(controllerTime(clock.now() - 300));
    expect(saved).toHaveLength(1);
    expect(shifts).toEqual([]);
  });

  it('drops a malformed message and one for another device, with a log line each', () => {
    const { sync, clock, saved, shifts, logs } = rig();
    sync.handle(Buffer.from('{not json'));
    sync.handle(Buffer.from(JSON.stringify({ protocol: 1, deviceId: DEVICE, at: 'yesterday', epoch: null })));
    sync.handle(Buffer.alloc(2048, 0x20));
    sync.handle(controllerTime(clock.now() - HOUR, 'dev-2'));
    expect(saved).toEqual([]);
    expect(shifts).toEqual([]);
    expect(sync.time.now()).toBe(clock.now());
    expect(logs.filter((l) => l.msg === 'controller time message dropped')).toHaveLength(3);
    expect(logs.find((l) => l.msg === 'controller time message for another device dropped')).toMatchObject({ claimed: 'dev-2' });
  });

  it("waits for the controller's clock before the first report only until one was read or waited for once", () => {
    const waiting = rig().sync;
    expect(waiting.firstReportDelayMs()).toBe(CLOCK_WAIT_MS);
    expect(waiting.firstReportDelayMs()).toBe(0);

    const { sync, clock } = rig();
    sync.handle(controllerTime(clock.now()));
    expect(sync.firstReportDelayMs()).toBe(0);
  });

  it('announces every refresh interval until stopped; never with an interval of 0', async () => {
    const { sync, clock, announced } = rig(1_000);
    const start = clock.now();
    sync.start();
    await clock.advance(3_500);
    expect(announced).toEqual([start + 1_000, start + 2_000, start + 3_000]);
    sync.stop();
    await clock.advance(5_000);
    expect(announced).toHaveLength(3);
    expect(clock.pending).toBe(0);

    const off = rig(0);
    off.sync.start();
    await off.clock.advance(HOUR);
    expect(off.announced).toEqual([]);
    expect(off.clock.pending).toBe(0);
  });
});
