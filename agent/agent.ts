import type { Logger } from 'pino';
import type { Clock } from '../shared/clock.js';
import { errorMessage, type OutpostError } from '../shared/errors.js';
import { PROTOCOL_VERSION } from '../shared/schemas/common.js';
import type { DesiredState } from '../shared/schemas/desired-state.js';
import type { Presence } from '../shared/schemas/presence.js';
import type { ReportedError, ReportedState } from '../shared/schemas/reported-state.js';
import { Topics } from '../shared/topics.js';
import { AGENT_VERSION } from '../shared/version.js';
import type { AgentConfig } from './config.js';
import { DeviceConnection, type ConnectFn } from './mqtt/connection.js';
import { classifyDesired } from './mqtt/desired-inbox.js';
import { Reporter } from './mqtt/reporter.js';
import { runReconcilePass } from './reconcile/reconcile-pass.js';
import { Reconciler } from './reconcile/reconciler.js';
import type { Step } from './reconcile/steps.js';
import { buildWorkloadStatuses, derivePhase, type Activity } from './reconcile/workload-status.js';
import type { ContainerRuntime, ObservedContainer, ObservedImage } from './runtime/runtime.js';
import type { AgentMeta, StateStore } from './state/state-store.js';

export interface AgentDeps {
  config: Readonly<AgentConfig>;
  runtime: ContainerRuntime;
  store: StateStore;
  connect: ConnectFn;
  clock: Clock;
  random: () => number;
  logger: Logger;
  bootId: string;
  /** Fault injection for crash tests (see agent/main.ts); absent in normal runs. */
  afterStep?: (step: Step) => void;
}

const MAX_ERRORS = 20;

/**
 * The device agent: wires the MQTT session, the latest-wins inbox, the disk
 * cache, the single-flight reconciler and the reporter. It holds the state
 * that ties them together and nothing else.
 */
export class Agent {
  private readonly topics: Topics;
  private readonly log: Logger;
  private readonly connection: DeviceConnection;
  private readonly reporter: Reporter;
  private readonly reconciler: Reconciler<DesiredState>;
  private meta!: AgentMeta;
  private highest: DesiredState | null = null;
  /** Newest accepted document not yet handed to the reconciler (connection not settled). */
  private pending: DesiredState | null = null;
  private settled = true;
  private settleTimer: NodeJS.Timeout | undefined;
  private maxSettleTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private passRunning = false;
  private failure: { code: string; message: string } | null = null;
  private errors: ReportedError[] = [];
  private rejected: ReportedState['rejected'] = null;
  private readonly activity = new Map<string, Activity>();
  private readonly removedThisPass = new Set<string>();
  private metaWrites: Promise<void> = Promise.resolve();
  private removed: { names: string[]; version: number | null } = { names: [], version: null };
  private reportTimer: NodeJS.Timeout | undefined;
  private readonly startedAt: string;
  private closed = false;

  constructor(private readonly deps: AgentDeps) {
    const { config } = deps;
    this.topics = new Topics(config.topicPrefix);
    this.log = deps.logger.child({ deviceId: config.deviceId });
    this.startedAt = new Date(deps.clock.now()).toISOString();
    this.connection = new DeviceConnection(
      {
        deviceId: config.deviceId,
        brokerUrl: config.brokerUrl,
        secret: config.secret,
        keepaliveSeconds: config.keepaliveSeconds,
        connectTimeoutMs: config.connectTimeoutMs,
        reconnect: { baseMs: config.reconnectBaseMs, capMs: config.reconnectCapMs, factor: 2 },
        watchdogMs: config.watchdogSeconds * 1000,
        subscriptions: [this.topics.desired(config.deviceId)],
        presenceTopic: this.topics.presence(config.deviceId),
        publishTimeoutMs: 30_000,
      },
      {
        connect: deps.connect,
        clock: deps.clock,
        random: deps.random,
        logger: this.log.child({ component: 'mqtt' }),
        nextEpoch: () => this.nextEpoch(),
        presencePayload: (status, epoch) => this.presence(status, epoch),
        onMessage: (topic, payload) => this.onMessage(topic, payload),
      },
    );
    this.reporter = new Reporter(
      {
        deviceId: config.deviceId,
        reportedTopic: this.topics.reported(config.deviceId),
        eventsTopic: this.topics.events(config.deviceId),
        maxQueuedEvents: 500,
        now: () => deps.clock.now(),
      },
      this.connection,
      this.log.child({ component: 'reporter' }),
    );
    this.reconciler = new Reconciler<DesiredState>({
      runPass: (doc, signal) => this.runPass(doc, signal),
      onStart: (doc) => this.onPassStart(doc),
      onSuccess: (doc) => this.onPassSuccess(doc),
      onFailure: (doc, err, retryInMs) => this.onPassFailure(doc, err, retryInMs),
      clock: deps.clock,
      random: deps.random,
      retry: { baseMs: config.retryBaseMs, capMs: config.retryCapMs, factor: 2 },
      logger: this.log.child({ component: 'reconciler' }),
    });
    this.connection.on('connected', () => this.onConnected());
    this.connection.on('subscribed', () => this.onSubscribed());
  }

  async start(): Promise<void> {
    await this.deps.store.init();
    this.meta = await this.deps.store.loadMeta();
    const cached = await this.deps.store.loadDesired();
    this.highest = cached;
    this.reporter.emit({
      type: 'agent.started',
      level: 'info',
      message: `agent ${AGENT_VERSION} started`,
      version: cached?.version ?? null,
      data: { bootId: this.deps.bootId, appliedVersion: this.meta.appliedVersion },
    });
    if (cached) {
      // Offline autonomy: converge on the cached document before (and whether
      // or not) the broker is reachable.
      this.log.info({ version: cached.version, appliedVersion: this.meta.appliedVersion }, 'reconciling cached desired state');
      this.reconciler.setTarget(cached);
    } else {
      this.scheduleReport();
    }
    this.connection.start();
    const resyncMs = this.deps.config.resyncIntervalSeconds * 1000;
    if (resyncMs > 0) {
      const tick = (): void => {
        this.resyncTimer = this.deps.clock.setTimeout(tick, resyncMs);
        if (!this.reconciler.busy) this.reconciler.requestPass();
      };
      this.resyncTimer = this.deps.clock.setTimeout(tick, resyncMs);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of [this.settleTimer, this.maxSettleTimer, this.resyncTimer, this.reportTimer]) this.deps.clock.clearTimeout(t);
    await this.reconciler.close();
    await this.connection.close();
  }

  /** Resolves when no reconcile pass is running (for tests). */
  idle(): Promise<void> {
    return this.reconciler.idle();
  }

  // ---- inbound -------------------------------------------------------------

  private async onMessage(topic: string, payload: Buffer): Promise<void> {
    if (topic !== this.topics.desired(this.deps.config.deviceId)) {
      this.log.warn({ topic }, 'message on an unexpected topic ignored');
      return;
    }
    const verdict = classifyDesired(payload, {
      deviceId: this.deps.config.deviceId,
      highestVersion: this.highest?.version ?? null,
      maxBytes: this.deps.config.maxDesiredBytes,
      policy: { allowedHostPaths: this.deps.config.allowedHostPaths },
    });
    switch (verdict.kind) {
      case 'ignore':
        this.log.debug({ version: verdict.version, reason: verdict.reason }, 'desired state ignored');
        this.reporter.emit({
          type: 'desired.ignored',
          level: 'info',
          message: `desired version ${verdict.version ?? '?'} ignored: ${verdict.reason}`,
          version: verdict.version,
        });
        return;
      case 'reject': {
        if (this.rejected && this.rejected.version !== null && this.rejected.version === verdict.version) return;
        const at = this.nowIso();
        this.log.warn({ code: verdict.code, version: verdict.version, reason: verdict.reason }, 'desired state rejected');
        this.rejected = { version: verdict.version, code: verdict.code, reason: verdict.reason.slice(0, 2048), at };
        this.pushError({ code: verdict.code, message: verdict.reason, version: verdict.version, workload: null });
        this.reporter.emit({
          type: 'desired.rejected',
          level: 'error',
          message: `desired state rejected: ${verdict.reason}`,
          version: verdict.version,
          code: verdict.code,
        });
        this.scheduleReport(0);
        return;
      }
      case 'accept': {
        const doc = verdict.doc;
        this.highest = doc;
        try {
          await this.deps.store.saveDesired(doc);
        } catch (err) {
          // Still applied: the retained document is sent again on every connect.
          this.log.error({ err: errorMessage(err), version: doc.version }, 'cannot cache desired state');
          this.pushError({ code: 'STATE_WRITE_FAILED', message: errorMessage(err), version: doc.version, workload: null });
        }
        this.log.info({ version: doc.version }, 'desired state received');
        this.reporter.emit({ type: 'desired.received', level: 'info', message: `desired version ${doc.version} received`, version: doc.version });
        if (this.settled) this.reconciler.setTarget(doc);
        else this.pending = doc;
        return;
      }
    }
  }

  private onConnected(): void {
    // DD-006 settle window: hold new documents until the explicit SUBSCRIBE
    // was answered and the queue burst is over, then apply only the newest.
    this.settled = false;
    this.deps.clock.clearTimeout(this.settleTimer);
    this.deps.clock.clearTimeout(this.maxSettleTimer);
    this.maxSettleTimer = this.deps.clock.setTimeout(() => this.settle(), this.deps.config.maxSettleMs);
    this.reporter.flush();
    this.scheduleReport(0);
  }

  private onSubscribed(): void {
    this.deps.clock.clearTimeout(this.settleTimer);
    this.settleTimer = this.deps.clock.setTimeout(() => this.settle(), this.deps.config.settleMs);
  }

  private settle(): void {
    this.deps.clock.clearTimeout(this.settleTimer);
    this.deps.clock.clearTimeout(this.maxSettleTimer);
    if (this.settled) return;
    this.settled = true;
    const doc = this.pending;
    this.pending = null;
    if (doc) this.reconciler.setTarget(doc);
  }

  // ---- reconcile -----------------------------------------------------------

  private async runPass(doc: DesiredState, signal: AbortSignal): Promise<void> {
    await runReconcilePass(
      doc,
      {
        deviceId: this.deps.config.deviceId,
        runtime: this.deps.runtime,
        events: this.reporter,
        logger: this.log.child({ component: 'reconcile', version: doc.version }),
        now: () => this.deps.clock.now(),
        ...(this.deps.afterStep ? { afterStep: this.deps.afterStep } : {}),
        onStep: (step, phase) => this.onStep(step, phase),
      },
      signal,
    );
  }

  private onStep(step: Step, phase: 'started' | 'succeeded' | 'failed'): void {
    const workloads = step.kind === 'pull' ? step.workloads : [step.workload];
    const activity: Activity | null = step.kind === 'pull' ? 'pulling' : step.kind === 'create' || step.kind === 'start' ? 'starting' : null;
    for (const w of workloads) {
      if (phase === 'started' && activity) this.activity.set(w, activity);
      else this.activity.delete(w);
    }
    if (step.kind === 'remove' && phase === 'succeeded' && !(step.workload in (this.reconciler.current?.workloads ?? {}))) {
      this.removedThisPass.add(step.workload);
    }
    if (phase === 'started' && activity) this.scheduleReport();
  }

  private onPassStart(doc: DesiredState): void {
    this.passRunning = true;
    this.removedThisPass.clear();
    if (this.meta.appliedVersion !== doc.version) {
      this.reporter.emit({ type: 'reconcile.started', level: 'info', message: `applying version ${doc.version}`, version: doc.version });
      this.scheduleReport(0);
    }
  }

  private onPassSuccess(doc: DesiredState): void {
    this.passRunning = false;
    this.activity.clear();
    this.failure = null;
    const newlyApplied = this.meta.appliedVersion !== doc.version;
    if (newlyApplied) {
      this.removed = { names: [...this.removedThisPass], version: doc.version };
      this.errors = [];
      this.rejected = this.rejected && (this.rejected.version ?? 0) > doc.version ? this.rejected : null;
      this.meta = { ...this.meta, appliedVersion: doc.version, appliedAt: this.nowIso() };
      void this.persistMeta();
      this.log.info({ version: doc.version }, 'desired state applied');
      this.reporter.emit({ type: 'reconcile.succeeded', level: 'info', message: `version ${doc.version} applied`, version: doc.version });
    }
    this.scheduleReport(0);
  }

  private onPassFailure(doc: DesiredState, err: OutpostError, retryInMs: number): void {
    this.passRunning = false;
    this.activity.clear();
    this.failure = { code: err.code, message: err.message };
    this.pushError({ code: err.code, message: err.message, version: doc.version, workload: null });
    this.reporter.emit({
      type: 'reconcile.failed',
      level: 'error',
      message: `version ${doc.version} not applied: ${err.message}`,
      version: doc.version,
      code: err.code,
      data: { retryInMs, retryable: err.retryable },
    });
    this.scheduleReport(0);
  }

  // ---- reporting -----------------------------------------------------------

  private scheduleReport(delayMs = 250): void {
    if (this.closed) return;
    if (this.reportTimer && delayMs > 0) return;
    this.deps.clock.clearTimeout(this.reportTimer);
    this.reportTimer = this.deps.clock.setTimeout(() => {
      this.reportTimer = undefined;
      this.buildReport().then(
        (r) => this.reporter.report(r),
        (err: unknown) => this.log.warn({ err: errorMessage(err) }, 'cannot build report'),
      );
    }, delayMs);
  }

  private async buildReport(): Promise<ReportedState> {
    const doc = this.reconciler.current ?? this.highest;
    let containers: ObservedContainer[] = [];
    const images = new Map<string, ObservedImage | null>();
    try {
      containers = await this.deps.runtime.listContainers(this.deps.config.deviceId);
      for (const spec of Object.values(doc?.workloads ?? {})) {
        if (!images.has(spec.image)) images.set(spec.image, await this.deps.runtime.inspectImage(spec.image));
      }
    } catch (err) {
      this.pushError({ code: 'RUNTIME_UNAVAILABLE', message: errorMessage(err), version: doc?.version ?? null, workload: null });
    }
    const workloads = buildWorkloadStatuses({
      doc,
      containers,
      images,
      activity: this.activity,
      failure: this.failure,
      removed: this.removed.names,
      removedInVersion: this.removed.version,
    });
    const failed = this.failure !== null || (this.rejected !== null && !this.passRunning);
    return {
      protocol: PROTOCOL_VERSION,
      deviceId: this.deps.config.deviceId,
      reportedAt: this.nowIso(),
      agent: { version: AGENT_VERSION, bootId: this.deps.bootId, startedAt: this.startedAt },
      desired: {
        seenVersion: this.highest?.version ?? null,
        appliedVersion: this.meta.appliedVersion,
        applyingVersion: doc && doc.version !== this.meta.appliedVersion ? doc.version : null,
      },
      phase: derivePhase({ doc, appliedVersion: this.meta.appliedVersion, passRunning: this.passRunning, failed, workloads }),
      workloads,
      errors: this.errors,
      deferred: null,
      rollback: null,
      rejected: this.rejected,
    };
  }

  private pushError(e: Omit<ReportedError, 'at'>): void {
    this.errors = [...this.errors, { ...e, message: e.message.slice(0, 2048), at: this.nowIso() }].slice(-MAX_ERRORS);
  }

  // ---- presence ------------------------------------------------------------

  private async nextEpoch(): Promise<number> {
    const epoch = Math.max(this.meta.lastEpoch + 1, this.deps.clock.now());
    this.meta = { ...this.meta, lastEpoch: epoch };
    await this.persistMeta();
    return epoch;
  }

  /** Serialized so that two writers never race a rename; each write takes the newest meta. */
  private persistMeta(): Promise<void> {
    this.metaWrites = this.metaWrites.then(() =>
      this.deps.store.saveMeta(this.meta).catch((err: unknown) => {
        this.log.error({ err: errorMessage(err) }, 'cannot persist agent state');
        this.pushError({ code: 'STATE_WRITE_FAILED', message: errorMessage(err), version: null, workload: null });
      }),
    );
    return this.metaWrites;
  }

  private presence(status: 'online' | 'offline', epoch: number): string {
    const p: Presence = {
      protocol: PROTOCOL_VERSION,
      deviceId: this.deps.config.deviceId,
      status,
      epoch,
      at: this.nowIso(),
      agentVersion: AGENT_VERSION,
      bootId: this.deps.bootId,
    };
    return JSON.stringify(p);
  }

  private nowIso(): string {
    return new Date(this.deps.clock.now()).toISOString();
  }
}
