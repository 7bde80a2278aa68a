import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentState } from '../../agent/agent-state.js';
import { PassFeedback } from '../../agent/pass-feedback.js';
import type { AgentEvent } from '../../agent/reconcile/event-sink.js';
import { OutpostError } from '../../shared/errors.js';
import { DesiredState } from '../../shared/schemas/desired-state.js';
import { captureLogs } from '../helpers/log-capture.js';
import { tempAgentState } from '../helpers/agent-state.js';
import type { TempDir } from '../helpers/temp-dir.js';

const DEVICE = 'feedback-a';
const doc = (version: number): DesiredState =>
  DesiredState.parse({ protocol: 1, deviceId: DEVICE, version, issuedAt: new Date().toISOString(), workloads: { app: { image: 'busybox:1' } } });

/**
 * What the reconciler's passes mean in the report: the state the report is
 * built from, the events, and whether a report goes at once (0) or paced (undefined).
 * Real agent state on a temporary directory.
 */
describe('pass feedback', () => {
  let dir: TempDir;
  let state: AgentState;
  let events: AgentEvent[];
  let reports: (number | undefined)[];
  let feedback: PassFeedback;
  const { logger } = captureLogs();

  beforeEach(async () => {
    ({ state, dir } = await tempAgentState(DEVICE, logger));
    events = [];
    reports = [];
    feedback = new PassFeedback({
      state,
      events: { emit: (e) => events.push(e) },
      logger,
      scheduleReport: (delayMs) => reports.push(delayMs),
      hasUnpersisted: () => false,
    });
  });
  afterEach(async () => {
    await dir?.remove();
  });

  it('a pass towards a new version makes the device applying, says so, and schedules a paced report', () => {
    state.meta = { ...state.meta, appliedVersion: 1 };
    feedback.onPassStart(doc(2));
    expect(state.passRunning).toBe(true);
    expect(events.map((e) => [e.type, e.version])).toEqual([['reconcile.started', 2]]);
    expect(reports).toEqual([undefined]);
  });

  it('the periodic pass over the applied version, holding back a rolled-back one and re-checking a deferred one leave the phase alone and say nothing', () => {
    state.meta = { ...state.meta, appliedVersion: 3, failedVersion: 4 };
    state.deferred = { version: 5, reason: 'window', until: new Date(Date.now() + 60_000).toISOString(), workloads: [] };
    // A refused newer document keeps the device failed: a resync must not hide that while it runs.
    state.rejected = { version: 6, code: 'DESIRED_POLICY', reason: 'refused', at: new Date().toISOString() };
    for (const v of [3, 4, 5]) {
      feedback.onPassStart(doc(v));
      expect(state.passRunning, `version ${v}`).toBe(false);
    }
    expect(events).toEqual([]);
    expect(reports).toEqual([]);
  });

  it('an applied pass clears what it replaced and reports at once; a failed one keeps the failure and reports at once', () => {
    state.meta = { ...state.meta, appliedVersion: 1 };
    feedback.onPassStart(doc(2));
    feedback.onStep(doc(2), { kind: 'remove', workload: 'gone', container: 'c1', reason: 'not in the desired state' }, 'succeeded');
    feedback.onPassSuccess(doc(2), { kind: 'applied' });
    expect(state.passRunning).toBe(false);
    expect(state.removed).toEqual({ names: ['gone'], version: 2 });
    expect(events.at(-1)).toMatchObject({ type: 'reconcile.succeeded', version: 2 });
    expect(reports.at(-1)).toBe(0);

    feedback.onPassStart(doc(3));
    feedback.onPassFailure(doc(3), new OutpostError('IMAGE_NOT_FOUND', 'no such image'), 500);
    expect(state.passRunning).toBe(false);
    expect(state.failure).toEqual({ code: 'IMAGE_NOT_FOUND', message: 'no such image' });
    expect(events.at(-1)).toMatchObject({ type: 'reconcile.failed', version: 3, code: 'IMAGE_NOT_FOUND', data: { retryInMs: 500 } });
    expect(reports.at(-1)).toBe(0);
  });
});
