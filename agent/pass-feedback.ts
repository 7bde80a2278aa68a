import type { Logger } from 'pino';
import type { OutpostError } from '../shared/errors.js';
import type { DesiredState } from '../shared/schemas/desired-state.js';
import type { AgentState } from './agent-state.js';
import { passKind } from './apply/pass-kind.js';
import type { EventSink } from './reconcile/event-sink.js';
import type { Step } from './reconcile/steps.js';
import type { Activity } from './reconcile/workload-status.js';
import type { RunResult } from './update-runner.js';

/** Refusals whose document's version cannot be believed: it may be anything an attacker wrote. */
const UNTRUSTED_VERSION: ReadonlySet<string> = new Set(['DESIRED_SIGNATURE', 'DESIRED_UNSIGNED', 'DESIRED_EXPIRED', 'DESIRED_WRONG_DEVICE']);

export interface PassFeedbackDeps {
  readonly state: AgentState;
  readonly events: EventSink;
  readonly logger: Logger;
  /** A report: after `delayMs`, or the profile's pacing of progress when absent (ReportScheduler). */
  scheduleReport(delayMs?: number): void;
  /** A document is accepted but not on disk yet (its STATE_WRITE_FAILED error stays reported). */
  hasUnpersisted(): boolean;
}

/**
 * What the reconciler's passes and steps mean to the operator: the agent
 * state the report is built from, the events, and when a report goes out.
 * Progress (a pass or a step started) is paced; an outcome is sent at once.
 */
export class PassFeedback {
  private readonly removedThisPass = new Set<string>();

  constructor(private readonly deps: PassFeedbackDeps) {}

  onStep(doc: DesiredState, step: Step, phase: 'started' | 'succeeded' | 'failed'): void {
    const { state } = this.deps;
    const workloads = step.kind === 'pull' ? step.workloads : [step.workload];
    const activity: Activity | null = step.kind === 'pull' ? 'pulling' : step.kind === 'create' || step.kind === 'start' ? 'starting' : null;
    for (const w of workloads) {
      if (phase === 'started' && activity) state.activity.set(w, activity);
      else state.activity.delete(w);
    }
    if (phase === 'succeeded' && step.kind === 'pull' && !state.meta.pulledImages.includes(step.image)) {
      state.meta = { ...state.meta, pulledImages: [...state.meta.pulledImages, step.image] };
      void state.persistMeta();
    }
    if (step.kind === 'remove' && phase === 'succeeded' && !(step.workload in doc.workloads)) this.removedThisPass.add(step.workload);
    if (phase === 'started' && activity) this.deps.scheduleReport();
  }

  onPassStart(doc: DesiredState): void {
    const { state } = this.deps;
    this.removedThisPass.clear();
    const { appliedVersion, failedVersion } = state.meta;
    const kind = passKind(doc.version, { appliedVersion, failedVersion, deferredVersion: state.deferred?.version ?? null });
    // Re-checking a deferred version, a resync or holding back a failed one changes nothing the operator
    // needs to hear about (metered links), and must not show the device as applying while it runs.
    state.passRunning = kind === 'apply';
    if (kind === 'apply') {
      this.deps.events.emit({ type: 'reconcile.started', level: 'info', message: `applying version ${doc.version}`, version: doc.version });
      // Progress, not an outcome: paced, so an update shorter than the pacing is one report (metered links).
      this.deps.scheduleReport();
    }
  }

  onPassSuccess(doc: DesiredState, result: RunResult): void {
    const { state, logger } = this.deps;
    logger.debug({ version: doc.version, result: result.kind }, 'pass done');
    state.passRunning = false;
    state.activity.clear();
    if (state.failure?.code !== 'STATE_WRITE_FAILED') state.failure = null;
    if (result.kind === 'applied') {
      state.removed = { names: [...this.removedThisPass], version: doc.version };
      state.errors = state.errors.filter((e) => e.code === 'STATE_WRITE_FAILED' && this.deps.hasUnpersisted());
      const r = state.rejected;
      // A refused newer version stays reported until something newer applies; but the version of
      // a document that failed its signature check is whatever a forger wrote (DD-026): it must not
      // keep the device looking failed forever.
      state.rejected = r && (r.version ?? 0) > doc.version && !UNTRUSTED_VERSION.has(r.code) ? r : null;
      logger.info({ version: doc.version }, 'desired state applied');
      this.deps.events.emit({ type: 'reconcile.succeeded', level: 'info', message: `version ${doc.version} applied`, version: doc.version });
    } else if (result.kind === 'rolled-back') {
      state.pushError({ code: 'UPDATE_UNHEALTHY', message: `${result.failure.workload}: ${result.failure.reason}`, version: doc.version, workload: result.failure.workload });
    }
    this.deps.scheduleReport(0);
  }

  onPassFailure(doc: DesiredState, err: OutpostError, retryInMs: number): void {
    const { state } = this.deps;
    state.passRunning = false;
    state.activity.clear();
    state.failure = { code: err.code, message: err.message };
    state.pushError({ code: err.code, message: err.message, version: doc.version, workload: null });
    this.deps.events.emit({
      type: 'reconcile.failed',
      level: 'error',
      message: `version ${doc.version} not applied: ${err.message}`,
      version: doc.version,
      code: err.code,
      data: { retryInMs, retryable: err.retryable },
    });
    this.deps.scheduleReport(0);
  }
}
