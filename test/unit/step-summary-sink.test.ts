import { describe, expect, it } from 'vitest';
import type { AgentEvent, EventSink } from '../../agent/reconcile/event-sink.js';
import { MAX_SUMMARISED_STEPS, StepSummarySink } from '../../agent/reconcile/step-summary-sink.js';

class Recorder implements EventSink {
  readonly events: AgentEvent[] = [];
  emit(event: AgentEvent): void {
    this.events.push(event);
  }
  types(): string[] {
    return this.events.map((e) => e.type);
  }
}

const started = (version: number): AgentEvent => ({ type: 'reconcile.started', level: 'info', message: `applying ${version}`, version });
const step = (kind: string, workload: string, version: number, ms = 5): AgentEvent[] => [
  { type: 'step.started', level: 'info', message: `${kind} ${workload}`, version, workload, data: { step: kind } },
  { type: 'step.succeeded', level: 'info', message: `${kind} ${workload}`, version, workload, data: { step: kind, ms } },
];

describe('StepSummarySink (event detail summary, issue 11)', () => {
  it('folds an update of three workloads into the event that closes it, steps in order', () => {
    const out = new Recorder();
    const sink = new StepSummarySink(out);
    sink.emit({ type: 'desired.received', level: 'info', message: 'v2', version: 2 });
    sink.emit(started(2));
    for (const w of ['a', 'b', 'c']) {
      for (const e of step('pull', w, 2, 40)) sink.emit(e);
      sink.emit({ type: 'pull.progress', level: 'info', message: 'downloading', version: 2, workload: w, data: { image: 'x' } });
      for (const kind of ['stop', 'create', 'start']) for (const e of step(kind, w, 2)) sink.emit(e);
    }
    sink.emit({ type: 'reconcile.succeeded', level: 'info', message: 'version 2 applied', version: 2 });

    expect(out.types()).toEqual(['desired.received', 'reconcile.started', 'reconcile.succeeded']);
    const steps = out.events[2]?.data?.steps as { step: string; workload: string; ms: number }[];
    expect(steps).toHaveLength(12);
    expect(steps.slice(0, 4)).toEqual([
      { step: 'pull', workload: 'a', ms: 40 },
      { step: 'stop', workload: 'a', ms: 5 },
      { step: 'create', workload: 'a', ms: 5 },
      { step: 'start', workload: 'a', ms: 5 },
    ]);
    expect(out.events[2]?.data?.stepsOmitted).toBeUndefined();
  });

  it('always sends a failed step, and a failed update keeps its own data beside the steps', () => {
    const out = new Recorder();
    const sink = new StepSummarySink(out);
    sink.emit(started(3));
    for (const e of step('pull', 'a', 3)) sink.emit(e);
    sink.emit({ type: 'step.started', level: 'info', message: 'create a', version: 3, workload: 'a', data: { step: 'create' } });
    sink.emit({ type: 'step.failed', level: 'error', message: 'create a: refused', version: 3, workload: 'a', code: 'POLICY_DENIED', data: { step: 'create' } });
    sink.emit({ type: 'reconcile.failed', level: 'error', message: 'not applied', version: 3, code: 'POLICY_DENIED', data: { retryInMs: 2000, retryable: false } });

    expect(out.types()).toEqual(['reconcile.started', 'step.failed', 'reconcile.failed']);
    expect(out.events[2]?.data).toEqual({ retryInMs: 2000, retryable: false, steps: [{ step: 'pull', workload: 'a', ms: 5 }] });
  });

  it('sends every step of a repair outside an update, as it happens', () => {
    const out = new Recorder();
    const sink = new StepSummarySink(out);
    for (const e of step('start', 'a', 1)) sink.emit(e);
    expect(out.types()).toEqual(['step.started', 'step.succeeded']);
    // And after an update closed, too.
    sink.emit(started(2));
    sink.emit({ type: 'update.deferred', level: 'info', message: 'deferred', version: 2, data: { reason: 'window' } });
    for (const e of step('create', 'b', 2)) sink.emit(e);
    expect(out.types()).toEqual(['step.started', 'step.succeeded', 'reconcile.started', 'update.deferred', 'step.started', 'step.succeeded']);
    expect(out.events[3]?.data).toEqual({ reason: 'window', steps: [] });
  });

  it('a superseded update that never closed: its steps go out one by one before the next one opens', () => {
    const out = new Recorder();
    const sink = new StepSummarySink(out);
    sink.emit(started(4));
    for (const e of step('pull', 'a', 4, 70)) sink.emit(e);
    sink.emit(started(5));
    expect(out.types()).toEqual(['reconcile.started', 'step.succeeded', 'reconcile.started']);
    expect(out.events[1]).toMatchObject({ version: 4, workload: 'a', data: { step: 'pull', ms: 70 } });
  });

  it('caps the summary and counts what it left out', () => {
    const out = new Recorder();
    const sink = new StepSummarySink(out);
    sink.emit(started(6));
    for (let i = 0; i < MAX_SUMMARISED_STEPS + 7; i++) for (const e of step('start', `w${i}`, 6)) sink.emit(e);
    sink.emit({ type: 'reconcile.succeeded', level: 'info', message: 'applied', version: 6 });
    expect((out.events[1]?.data?.steps as unknown[]).length).toBe(MAX_SUMMARISED_STEPS);
    expect(out.events[1]?.data?.stepsOmitted).toBe(7);
  });
});

describe('StepSummarySink, event detail outcome (cellular profile)', () => {
  it('tells an update by its closing event alone, the steps counted', () => {
    const out = new Recorder();
    const sink = new StepSummarySink(out, 'outcome');
    sink.emit({ type: 'desired.received', level: 'info', message: 'v2', version: 2 });
    sink.emit(started(2));
    for (const w of ['a', 'b', 'c']) for (const kind of ['stop', 'create', 'start']) for (const e of step(kind, w, 2)) sink.emit(e);
    sink.emit({ type: 'reconcile.succeeded', level: 'info', message: 'version 2 applied', version: 2 });
    expect(out.types()).toEqual(['reconcile.succeeded']);
    expect(out.events[0]?.data).toEqual({ stepCount: 9 });
  });

  it('still sends a failed step as it happens, and a superseded pass is counted into the next outcome', () => {
    const out = new Recorder();
    const sink = new StepSummarySink(out, 'outcome');
    sink.emit(started(4));
    for (const e of step('pull', 'a', 4)) sink.emit(e);
    sink.emit(started(5));
    for (const e of step('pull', 'b', 5)) sink.emit(e);
    sink.emit({ type: 'step.failed', level: 'error', message: 'create b: refused', version: 5, workload: 'b', code: 'POLICY_DENIED', data: { step: 'create' } });
    sink.emit({ type: 'reconcile.failed', level: 'error', message: 'not applied', version: 5, code: 'POLICY_DENIED', data: { retryable: false } });
    expect(out.types()).toEqual(['step.failed', 'reconcile.failed']);
    expect(out.events[1]?.data).toEqual({ retryable: false, stepCount: 2 });
    // Outside an update, a repair is still told step by step.
    for (const e of step('start', 'a', 5)) sink.emit(e);
    expect(out.types().slice(2)).toEqual(['step.started', 'step.succeeded']);
  });
});
