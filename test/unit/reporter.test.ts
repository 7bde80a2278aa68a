import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Reporter, type Publisher } from '../../agent/mqtt/reporter.js';
import { ReportedState } from '../../shared/schemas/reported-state.js';

/** A publisher whose PUBACKs the test hands out one at a time. */
class HeldPublisher implements Publisher {
  isConnected = true;
  readonly sent: { topic: string; payload: string }[] = [];
  private readonly pending: { resolve: () => void; reject: (err: Error) => void }[] = [];

  publish(topic: string, payload: string): Promise<void> {
    this.sent.push({ topic, payload });
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }

  get waiting(): number {
    return this.pending.length;
  }

  /** The broker acknowledges the oldest publish in flight (or the link drops it). */
  async settle(ok = true): Promise<void> {
    const next = this.pending.shift();
    if (!next) throw new Error('nothing in flight');
    if (ok) next.resolve();
    else next.reject(new Error('connection lost'));
    // Let the reporter's loop take its next step.
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }

  reports(): ReportedState[] {
    return this.sent.filter((m) => m.topic === 'reported').map((m) => ReportedState.parse(JSON.parse(m.payload)));
  }
}

let clock = Date.parse('2026-11-30T12:00:00.000Z');

function state(phase: ReportedState['phase'], applied: number | null): ReportedState {
  clock += 1000;
  const at = new Date(clock).toISOString();
  return ReportedState.parse({
    protocol: 1,
    deviceId: 'dev-1',
    reportedAt: at,
    agent: { version: 'test', bootId: 'boot', startedAt: '2026-11-30T11:00:00.000Z' },
    desired: { seenVersion: 3, appliedVersion: applied, applyingVersion: applied === 3 ? null : 3 },
    phase,
    workloads: {},
    errors: [],
    rejected: null,
  });
}

function reporter(publisher: Publisher): Reporter {
  return new Reporter(
    { deviceId: 'dev-1', reportedTopic: 'reported', eventsTopic: 'events', maxQueuedEvents: 3, now: () => clock },
    publisher,
    pino({ level: 'silent' }),
  );
}

describe('Reporter', () => {
  it('does not send a report twice while the first still waits for its PUBACK (issue 11)', async () => {
    const pub = new HeldPublisher();
    const r = reporter(pub);
    r.report(state('applying', null));
    r.report(state('applying', null)); // same content, a later time: the agent's next pass
    await pub.settle();
    r.report(state('applying', null)); // and once more after the PUBACK
    expect(pub.waiting).toBe(0);
    expect(pub.reports().map((s) => s.phase)).toEqual(['applying']);
  });

  it('sends the newest of several changes once the one in flight is acknowledged, skipping those in between', async () => {
    const pub = new HeldPublisher();
    const r = reporter(pub);
    r.report(state('applying', null));
    r.report(state('degraded', 2));
    r.report(state('converged', 3));
    await pub.settle();
    await pub.settle();
    expect(pub.waiting).toBe(0);
    expect(pub.reports().map((s) => s.phase)).toEqual(['applying', 'converged']);
  });

  it('resends an unacknowledged report on reconnect, once, even if the agent reported the same meanwhile', async () => {
    const pub = new HeldPublisher();
    const r = reporter(pub);
    r.report(state('converged', 3));
    pub.isConnected = false;
    await pub.settle(false);
    r.report(state('converged', 3));
    expect(pub.sent).toHaveLength(1);
    pub.isConnected = true;
    r.flush();
    await pub.settle();
    expect(pub.reports().map((s) => s.phase)).toEqual(['converged', 'converged']);
    r.flush();
    expect(pub.waiting).toBe(0);
  });

  it('reports a state again after a different one, even if it equals an older one', async () => {
    const pub = new HeldPublisher();
    const r = reporter(pub);
    r.report(state('converged', 3));
    await pub.settle();
    r.report(state('degraded', 3));
    await pub.settle();
    r.report(state('converged', 3));
    await pub.settle();
    expect(pub.reports().map((s) => s.phase)).toEqual(['converged', 'degraded', 'converged']);
  });

  it('keeps events until their PUBACK, in order, and drops the oldest beyond the bound while offline', async () => {
    const pub = new HeldPublisher();
    pub.isConnected = false;
    const r = reporter(pub);
    for (const n of [1, 2, 3, 4, 5]) r.emit({ type: 'step.started', level: 'info', message: `step ${n}` });
    expect(pub.sent).toHaveLength(0);
    pub.isConnected = true;
    r.flush();
    await pub.settle(false); // lost with the link: sent again
    r.flush();
    while (pub.waiting > 0) await pub.settle();
    const messages = pub.sent.map((m) => (JSON.parse(m.payload) as { message: string }).message);
    expect(messages).toEqual(['step 3', 'step 3', 'step 4', 'step 5']);
  });
});
