import { describe, expect, it } from 'vitest';
import { SettleWindow } from '../../agent/mqtt/settle-window.js';
import { ReportScheduler } from '../../agent/report-scheduler.js';
import { ManualClock } from '../helpers/manual-clock.js';

function windowRig() {
  const clock = new ManualClock();
  const applied: number[] = [];
  const window = new SettleWindow<number>({ clock, settleMs: 300, maxSettleMs: 5_000, apply: (v) => applied.push(v) });
  return { clock, applied, window };
}

describe('SettleWindow (DD-006)', () => {
  it('outside a window, a document goes on at once', () => {
    const { applied, window } = windowRig();
    window.offer(1);
    window.offer(2);
    expect(applied).toEqual([1, 2]);
  });

  it('after a connect, holds documents until settleMs after the SUBSCRIBE answer, then applies only the newest', async () => {
    const { clock, applied, window } = windowRig();
    window.connected();
    window.offer(3);
    window.offer(4);
    await clock.advance(1_000);
    expect(applied).toEqual([]);
    window.subscribed();
    window.offer(5);
    await clock.advance(299);
    expect(applied).toEqual([]);
    await clock.advance(1);
    expect(applied).toEqual([5]);
    window.offer(6);
    expect(applied).toEqual([5, 6]);
  });

  it('a second SUBSCRIBE answer restarts the quiet time; maxSettleMs closes the window regardless', async () => {
    const { clock, applied, window } = windowRig();
    window.connected();
    window.offer(7);
    for (let i = 0; i < 19; i++) {
      window.subscribed();
      await clock.advance(250);
    }
    expect(applied).toEqual([]);
    window.subscribed();
    await clock.advance(249);
    expect(applied).toEqual([]);
    await clock.advance(1); // 5,000 ms after the connect
    expect(applied).toEqual([7]);
  });

  it('a window with nothing held applies nothing; close() drops its timers', async () => {
    const { clock, applied, window } = windowRig();
    window.connected();
    window.subscribed();
    await clock.advance(6_000);
    expect(applied).toEqual([]);
    window.connected();
    window.offer(8);
    window.close();
    expect(clock.pending).toBe(0);
  });
});

describe('ReportScheduler', () => {
  function reportRig() {
    const clock = new ManualClock();
    let sent = 0;
    const reports = new ReportScheduler({ clock, progressDelayMs: 2_000, send: () => sent++ });
    return { clock, reports, sent: () => sent };
  }

  it('progress reports within the pacing go out as one, when the first one is due', async () => {
    const { clock, reports, sent } = reportRig();
    reports.schedule();
    await clock.advance(1_500);
    reports.schedule();
    await clock.advance(499);
    expect(sent()).toBe(0);
    await clock.advance(1);
    expect(sent()).toBe(1);
    await clock.advance(10_000);
    expect(sent()).toBe(1);
  });

  it('an outcome goes out at once and takes a waiting progress report with it', async () => {
    const { clock, reports, sent } = reportRig();
    reports.schedule();
    reports.schedule(0);
    await clock.advance(0);
    expect(sent()).toBe(1);
    await clock.advance(10_000);
    expect(sent()).toBe(1);
  });

  it('after close() nothing is sent', async () => {
    const { clock, reports, sent } = reportRig();
    reports.schedule();
    reports.close();
    reports.schedule(0);
    await clock.advance(10_000);
    expect(sent()).toBe(0);
  });
});
