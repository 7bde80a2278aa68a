import { describe, expect, it } from 'vitest';
import { defaultRtoMs, newDirectionState, scheduleChunk, type LossModel } from '../helpers/tcp-loss-model.js';

/** Draws from a fixed list: a value below lossRate loses that transmission. */
const draws = (...xs: number[]): (() => number) => () => xs.shift() ?? 0.99;
const model: LossModel = { delayMs: 300, lossRate: 0.02, rtoMs: 800, mss: 1448 };

describe('the TCP loss model of the lossy link', () => {
  it('takes Linux RTO as the RTT plus 200 ms', () => {
    expect(defaultRtoMs(300)).toBe(800);
  });

  it('delivers a segment that is not lost after the delay', () => {
    const state = newDirectionState();
    expect(scheduleChunk(model, state, 1_000, 100, draws(0.5))).toEqual([{ start: 0, end: 100, deliverAt: 1_300 }]);
    expect(state).toEqual({ lastDeliverAt: 1_300, segments: 1, lost: 0, retransmitWaitMs: 0 });
  });

  it('delivers a lost segment after its RTO, doubling the RTO for each further loss (RFC 6298 5.5)', () => {
    expect(scheduleChunk(model, newDirectionState(), 0, 10, draws(0.01, 0.5))[0]?.deliverAt).toBe(300 + 800);
    const twice = newDirectionState();
    expect(scheduleChunk(model, twice, 0, 10, draws(0.01, 0.01, 0.5))[0]?.deliverAt).toBe(300 + 800 + 1_600);
    expect(twice).toMatchObject({ lost: 2, retransmitWaitMs: 2_400 });
  });

  it('holds what follows a lost segment behind it (head-of-line blocking)', () => {
    const state = newDirectionState();
    const random = draws(0.01, 0.5, 0.5, 0.5);
    expect(scheduleChunk(model, state, 0, 10, random)[0]?.deliverAt).toBe(1_100);
    expect(scheduleChunk(model, state, 100, 10, random)[0]?.deliverAt).toBe(1_100);
    expect(scheduleChunk(model, state, 2_000, 10, random)[0]?.deliverAt).toBe(2_300);
  });

  it('cuts a chunk into MSS-sized segments, each with its own fate', () => {
    const out = scheduleChunk(model, newDirectionState(), 0, 3_000, draws(0.5, 0.01, 0.5, 0.5));
    expect(out).toEqual([
      { start: 0, end: 1448, deliverAt: 300 },
      { start: 1448, end: 2896, deliverAt: 1_100 },
      { start: 2896, end: 3000, deliverAt: 1_100 },
    ]);
  });
});
