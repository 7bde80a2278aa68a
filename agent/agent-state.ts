import type { Logger } from 'pino';
import { errorMessage } from '../shared/errors.js';
import type { DesiredState } from '../shared/schemas/desired-state.js';
import type { ReportedError, ReportedState } from '../shared/schemas/reported-state.js';
import type { Activity } from './reconcile/workload-status.js';
import type { AgentMeta, StateStore } from './state/state-store.js';

const MAX_ERRORS = 20;

/**
 * What the agent knows between passes: the persisted meta (applied version,
 * epoch, failed version, pulled images), the applied and newest documents,
 * and the in-memory facts the report is built from. One owner, so the
 * reporter, the inbox and the update runner agree.
 */
export class AgentState {
  meta!: AgentMeta;
  /** The last version fully applied (what a rollback returns to). */
  applied: DesiredState | null = null;
  /** The newest valid document received. */
  highest: DesiredState | null = null;
  passRunning = false;
  failure: { code: string; message: string } | null = null;
  errors: ReportedError[] = [];
  rejected: ReportedState['rejected'] = null;
  deferred: ReportedState['deferred'] = null;
  /** The held document expired and no fresh one came (DD-026). */
  stale: NonNullable<ReportedState['stale']> | null = null;
  readonly activity = new Map<string, Activity>();
  removed: { names: string[]; version: number | null } = { names: [], version: null };
  private metaWrites: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: StateStore,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  async load(): Promise<void> {
    await this.store.init();
    this.meta = await this.store.loadMeta();
    this.highest = await this.store.loadDesired();
    this.applied = await this.store.loadApplied();
    if (this.applied && this.applied.version !== this.meta.appliedVersion) {
      // The applied document is written before the meta; a crash in between leaves the meta behind.
      this.meta = { ...this.meta, appliedVersion: this.applied.version };
    }
  }

  /** Serialized so two writers never race a rename; each write takes the newest meta. */
  persistMeta(): Promise<void> {
    this.metaWrites = this.metaWrites.then(() =>
      this.store.saveMeta(this.meta).catch((err: unknown) => {
        this.logger.error({ err: errorMessage(err) }, 'cannot persist agent state');
        this.pushError({ code: 'STATE_WRITE_FAILED', message: errorMessage(err), version: null, workload: null });
      }),
    );
    return this.metaWrites;
  }

  async saveApplied(doc: DesiredState): Promise<void> {
    await this.store.saveApplied(doc);
    this.applied = doc;
  }

  saveDesired(doc: DesiredState): Promise<void> {
    return this.store.saveDesired(doc);
  }

  pushError(e: Omit<ReportedError, 'at'>): void {
    this.errors = [...this.errors, { ...e, message: e.message.slice(0, 2048), at: this.iso() }].slice(-MAX_ERRORS);
  }

  iso(): string {
    return new Date(this.now()).toISOString();
  }

  /**
   * `reportedAt`: never earlier than the previous report's. The controller
   * keeps, per seen version, the report with the latest `reportedAt`; a clock
   * corrected backwards (DD-052) must not make it drop this process's reports.
   */
  reportStamp(): string {
    this.lastReportMs = Math.max(this.lastReportMs + 1, this.now());
    return new Date(this.lastReportMs).toISOString();
  }
  private lastReportMs = 0;
}
