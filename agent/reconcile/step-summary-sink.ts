import type { EventType } from '../../shared/schemas/event.js';
import type { AgentEvent, EventSink } from './event-sink.js';

/** One step of an update, as the closing event of the update lists it. */
export interface StepSummary {
  step: string;
  workload: string | null;
  ms: number | null;
}

/** Events that open an update: steps after them are summarised. */
const OPENS: ReadonlySet<EventType> = new Set(['reconcile.started']);
/** Events that close one: they carry the summary (`data.steps`). */
const CLOSES: ReadonlySet<EventType> = new Set(['reconcile.succeeded', 'reconcile.failed', 'update.rolled-back', 'update.deferred']);
/** Per-step detail that the summary replaces. `step.failed` is not among them: a failure is always sent. */
const FOLDED: ReadonlySet<EventType> = new Set(['step.started', 'step.succeeded', 'pull.progress']);

/** Told in outcome detail by the closing event alone. */
const OUTCOME_SILENT: ReadonlySet<EventType> = new Set(['desired.received', 'reconcile.started']);

/** A summary longer than this keeps its first steps and counts the rest (`data.stepsOmitted`). */
export const MAX_SUMMARISED_STEPS = 100;

/**
 * summary: the closing event lists the steps (`data.steps`); outcome (metered
 * links): an update is the closing event alone — no `desired.received` or
 * `reconcile.started` — with the steps counted (`data.stepCount`).
 */
export type SummaryDetail = 'summary' | 'outcome';

/**
 * Event detail `summary` (the default, issue 11): between the event that
 * opens an update (`reconcile.started`) and the one that closes it
 * (`reconcile.succeeded`, `reconcile.failed`, `update.rolled-back`,
 * `update.deferred`), the per-step events (`step.started`, `step.succeeded`,
 * `pull.progress`) are not sent; the closing event lists the steps that
 * succeeded in `data.steps` (`[{step, workload, ms}]`). An update of three
 * workloads is then 3 events instead of 27. Outside an update (a repair of a
 * crashed container, a command) every step is still sent as it happens, and
 * `step.failed` always is. With detail `outcome` the update is one event:
 * the closing one, with `data.stepCount` instead of the list. The messages
 * are the same protocol v1 events; only fewer of them (docs/protocol.md,
 * "Event detail").
 */
export class StepSummarySink implements EventSink {
  private open = false;
  /** The `step.succeeded` events of the open update, held back. */
  private held: AgentEvent[] = [];
  private omitted = 0;
  /** Outcome detail: steps of passes superseded before they closed, counted into the next closing event. */
  private carried = 0;

  constructor(
    private readonly next: EventSink,
    private readonly detail: SummaryDetail = 'summary',
  ) {}

  emit(event: AgentEvent): void {
    const outcome = this.detail === 'outcome';
    if (OPENS.has(event.type)) {
      // A pass superseded before it closed: what it did is still told, step by step (outcome: counted).
      if (outcome) this.carried += this.held.length + this.omitted;
      else for (const e of this.held) this.next.emit(e);
      this.reset();
      this.open = true;
      if (!outcome) this.next.emit(event);
      return;
    }
    if (outcome && OUTCOME_SILENT.has(event.type)) return;
    if (this.open && FOLDED.has(event.type)) {
      if (event.type !== 'step.succeeded') return;
      if (this.held.length < MAX_SUMMARISED_STEPS) this.held.push(event);
      else this.omitted++;
      return;
    }
    if (this.open && CLOSES.has(event.type)) {
      const steps = this.held.map(summaryOf);
      const omitted = this.omitted;
      const carried = this.carried;
      this.reset();
      this.carried = 0;
      const data = outcome
        ? { ...event.data, stepCount: steps.length + omitted + carried }
        : { ...event.data, steps, ...(omitted > 0 ? { stepsOmitted: omitted } : {}) };
      this.next.emit({ ...event, data });
      return;
    }
    this.next.emit(event);
  }

  private reset(): void {
    this.open = false;
    this.held = [];
    this.omitted = 0;
  }
}

function summaryOf(event: AgentEvent): StepSummary {
  const data = event.data ?? {};
  return { step: typeof data.step === 'string' ? data.step : 'unknown', workload: event.workload ?? null, ms: typeof data.ms === 'number' ? data.ms : null };
}
