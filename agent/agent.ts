import type { Logger } from 'pino';
import type { Clock } from '../shared/clock.js';
import { errorMessage, type OutpostError } from '../shared/errors.js';
import { PROTOCOL_VERSION } from '../shared/schemas/common.js';
import type { DesiredState } from '../shared/schemas/desired-state.js';
import type { Presence } from '../shared/schemas/presence.js';
import { Topics } from '../shared/topics.js';
import { AGENT_VERSION } from '../shared/version.js';
import { AgentState } from './agent-state.js';
import { UpdateLocks } from './apply/update-locks.js';
import { WakeTimer } from './apply/wake-timer.js';
import { ExpiryWatch, type Staleness } from './apply/expiry-watch.js';
import { TrustStore } from './state/trust-store.js';
import { CommandHandler } from './commands/command-handler.js';
import type { AgentConfig } from './config.js';
import { DeviceConnection, type ConnectFn } from './mqtt/connection.js';
import type { TlsMaterial } from './mqtt/tls-files.js';
import { classifyDesired } from './mqtt/desired-inbox.js';
import { Reporter } from './mqtt/reporter.js';
import type { EventSink } from './reconcile/event-sink.js';
import { StepSummarySink } from './reconcile/step-summary-sink.js';
import { netProber, type Prober } from './reconcile/probes.js';
import type { AgentPolicy } from './policy/admit-document.js';
import { devicePolicyFromConfig } from './policy/device-policy.js';
import { nodeHostFs, type HostFs } from './policy/host-fs.js';
import { createGuard } from './reconcile/create-guard.js';
import { checkPolicy } from './reconcile/policy.js';
import { Reconciler } from './reconcile/reconciler.js';
import type { Step } from './reconcile/steps.js';
import type { Activity } from './reconcile/workload-status.js';
import { passKind } from './apply/pass-kind.js';
import { buildReport } from './report-builder.js';
import { ReportScheduler } from './report-scheduler.js';
import { SettleWindow } from './mqtt/settle-window.js';
import type { ContainerRuntime } from './runtime/runtime.js';
import type { StateStore } from './state/state-store.js';
import { hostCpus, readSystemSources } from './telemetry/system-sources.js';
import { TelemetryLoop } from './telemetry/telemetry-loop.js';
import { runFor, type RunResult } from './update-runner.js';
import { credentialSource } from './mqtt/connect-refusal.js';
import type { ControllerClock } from './clock/controller-clock.js';
import { ClockSync } from './clock/clock-sync.js';

/** Refusals whose document's version cannot be believed: it may be anything an attacker wrote. */
const UNTRUSTED_VERSION: ReadonlySet<string> = new Set(['DESIRED_SIGNATURE', 'DESIRED_UNSIGNED', 'DESIRED_EXPIRED', 'DESIRED_WRONG_DEVICE']);

/** Pass failures that credentials may cure (some registries answer "not found" to anonymous pulls). */
const PULL_FAILURES: ReadonlySet<string> = new Set(['REGISTRY_AUTH', 'IMAGE_NOT_FOUND', 'IMAGE_PULL_FAILED']);

export interface AgentDeps {
  config: Readonly<AgentConfig>;
  runtime: ContainerRuntime;
  store: StateStore;
  connect: ConnectFn;
  clock: Clock;
  random: () => number;
  logger: Logger;
  bootId: string;
  prober?: Prober;
  /** The filesystem the device policy resolves bind sources on (DD-024); absent: the real one. */
  hostFs?: HostFs;
  /** Fault injection for crash tests (see agent/main.ts); absent in normal runs. */
  afterStep?: (step: Step) => void;
  /** Health-gate timings (tests shorten them). */
  gate?: { minimumReadyMs?: number; imageHealthBudgetMs?: number; pollMs?: number };
  /** Re-reads the secret before each connection attempt (a rotated secret file); absent: config.secret. */
  currentSecret?: () => string;
  /** Re-reads the TLS files (CA, client certificate, key) before each connection attempt; absent: no TLS options. */
  currentTls?: () => TlsMaterial;
}

/**
 * The device agent: wires the MQTT session, the latest-wins inbox, the disk
 * cache, the single-flight reconciler, the update runner and the reporter.
 */
export class Agent {
  private readonly topics: Topics;
  private readonly log: Logger;
  private readonly connection: DeviceConnection;
  private readonly reporter: Reporter;
  /** Where events go: the reporter, through the step summary unless every step is wanted (issue 11). */
  private readonly events: EventSink;
  private readonly reconciler: Reconciler<DesiredState, RunResult>;
  private readonly state: AgentState;
  /** DD-052: the controller's time; what every controller-written instant is compared with. */
  private readonly time: ControllerClock;
  private readonly clockSync: ClockSync;
  private readonly locks: UpdateLocks;
  private readonly commands: CommandHandler;
  private readonly telemetry: TelemetryLoop;
  /** Accepted but not yet on disk (disk full): applied only once it is persisted. */
  private unpersisted: DesiredState | null = null;
  private persistTimer: NodeJS.Timeout | undefined;
  private persistAttempt = 0;
  private registryAuth: DesiredState['registryAuth'] = undefined;
  private readonly window: SettleWindow<DesiredState>;
  private resyncTimer: NodeJS.Timeout | undefined;
  private readonly wake: WakeTimer;
  /** DD-024: the device's own policy, set by local flags only; checked at receipt, at start and before every create. */
  private readonly policy: AgentPolicy;
  /** Keys the device trusts for signed documents; null in an unsigned fleet (DD-026). */
  private readonly trust: TrustStore | null;
  private readonly expiry: ExpiryWatch;
  private readonly reports: ReportScheduler;
  private readonly startedAt: string;
  private closed = false;

  constructor(private readonly deps: AgentDeps) {
    const { config } = deps;
    this.topics = new Topics(config.topicPrefix);
    this.log = deps.logger.child({ deviceId: config.deviceId });
    this.startedAt = new Date(deps.clock.now()).toISOString();
    this.clockSync = new ClockSync({
      deviceId: config.deviceId,
      clock: deps.clock,
      logger: this.log,
      refreshMs: config.clockRefreshSeconds * 1000,
      save: (reading) => {
        this.state.meta = { ...this.state.meta, clock: reading };
        void this.state.persistMeta();
      },
      announce: () => this.connection.announceOnline(),
      onShift: () => this.onClockShift(),
    });
    this.time = this.clockSync.time;
    this.state = new AgentState(deps.store, this.log.child({ component: 'state' }), () => this.time.now());
    this.locks = new UpdateLocks(config.locksDir ?? `${config.stateDir}/locks`);
    this.wake = new WakeTimer(this.time, this.locks, config.lockPollMs, () => this.reconciler.requestPass());
    this.policy = { rules: devicePolicyFromConfig(config), fs: deps.hostFs ?? nodeHostFs };
    this.trust = config.trust === undefined ? null : new TrustStore(config.stateDir, config.trust, this.log.child({ component: 'trust' }));
    this.expiry = new ExpiryWatch(this.time, (stale) => this.onStaleness(stale));
    this.window = new SettleWindow({ clock: deps.clock, settleMs: config.settleMs, maxSettleMs: config.maxSettleMs, apply: (doc) => this.reconciler.setTarget(doc) });
    this.reports = new ReportScheduler({ clock: deps.clock, progressDelayMs: config.reportDelayMs, send: () => this.sendReport() });
    this.connection = new DeviceConnection(
      {
        deviceId: config.deviceId,
        brokerUrl: config.brokerUrl,
        failoverUrls: config.failoverBrokerUrls,
        secret: config.secret,
        keepaliveSeconds: config.keepaliveSeconds,
        connectTimeoutMs: config.connectTimeoutMs,
        reconnect: { baseMs: config.reconnectBaseMs, capMs: config.reconnectCapMs, factor: 2 },
        watchdogMs: config.watchdogSeconds * 1000,
        subscriptions: [this.topics.desired(config.deviceId), this.topics.commands(config.deviceId), this.topics.clock(config.deviceId)],
        presenceTopic: this.topics.presence(config.deviceId),
        publishTimeoutMs: 30_000,
        credential: credentialSource(config),
      },
      {
        connect: deps.connect,
        clock: deps.clock,
        random: deps.random,
        logger: this.log.child({ component: 'mqtt' }),
        nextEpoch: () => this.nextEpoch(),
        presencePayload: (status, epoch) => this.presence(status, epoch),
        onMessage: (topic, payload) => this.onMessage(topic, payload),
        ...(deps.currentSecret ? { currentSecret: deps.currentSecret } : {}),
        ...(deps.currentTls ? { currentTls: deps.currentTls } : {}),
      },
    );
    this.reporter = new Reporter(
      {
        deviceId: config.deviceId,
        reportedTopic: this.topics.reported(config.deviceId),
        eventsTopic: this.topics.events(config.deviceId),
        maxQueuedEvents: 500,
        format: config.reportFormat,
        now: () => this.time.now(),
      },
      this.connection,
      this.log.child({ component: 'reporter' }),
    );
    this.events = config.eventDetail === 'steps' ? this.reporter : new StepSummarySink(this.reporter, config.eventDetail);
    this.reconciler = new Reconciler<DesiredState, RunResult>({
      runPass: (doc, signal) =>
        runFor(doc, signal, {
          deviceId: config.deviceId,
          runtime: deps.runtime,
          state: this.state,
          events: this.events,
          logger: this.log.child({ component: 'reconcile', version: doc.version }),
          now: () => deps.clock.now(),
          controllerNow: () => this.time.now(),
          locks: this.locks,
          registryAuth: () => this.registryAuth,
          pass: {
            prober: deps.prober ?? netProber,
            guard: createGuard(this.policy, deps.runtime),
            ...(deps.afterStep ? { afterStep: deps.afterStep } : {}),
            onStep: (step, phase) => this.onStep(doc, step, phase),
            ...(deps.gate ? { gate: deps.gate } : {}),
          },
          wakeAt: (atMs) => this.wake.at(atMs),
          wakeWhenUnlocked: (workloads) => this.wake.whenUnlocked(workloads),
        }),
      onStart: (doc) => this.onPassStart(doc),
      onSuccess: (doc, result) => this.onPassSuccess(doc, result),
      onFailure: (doc, err, retryInMs) => this.onPassFailure(doc, err, retryInMs),
      clock: deps.clock,
      random: deps.random,
      retry: { baseMs: config.retryBaseMs, capMs: config.retryCapMs, factor: 2 },
      logger: this.log.child({ component: 'reconciler' }),
    });
    const startedAtMs = deps.clock.now();
    this.commands = new CommandHandler({
      deviceId: config.deviceId,
      runtime: deps.runtime,
      now: () => this.time.now(),
      localNow: () => deps.clock.now(),
      events: this.events,
      requestResync: () => this.resync(),
      stopTimeoutSeconds: (w) => (this.reconciler.current ?? this.state.highest)?.workloads[w]?.stopTimeoutSeconds ?? 10,
      agent: { version: AGENT_VERSION, startedAtMs },
      logger: this.log.child({ component: 'commands' }),
    });
    this.telemetry = new TelemetryLoop({
      intervalSeconds: config.telemetryIntervalSeconds,
      deltas: config.telemetryDeltas,
      topic: this.topics.telemetry(config.deviceId),
      clock: deps.clock,
      publisher: this.connection,
      read: () =>
        readSystemSources({
          deviceId: config.deviceId,
          stateDir: config.stateDir,
          runtime: deps.runtime,
          mqttBytes: () => this.connection.bytes,
          agentStartedAtMs: startedAtMs,
          now: () => deps.clock.now(),
          logger: this.log,
        }),
      cpus: hostCpus,
      logger: this.log.child({ component: 'telemetry' }),
    });
    this.connection.on('connected', () => this.onConnected());
    this.connection.on('subscribed', () => this.onSubscribed());
  }

  async start(): Promise<void> {
    await this.state.load();
    this.clockSync.restore(this.state.meta.clock);
    await this.trust?.load();
    await this.releaseLeftoverLocks();
    const cached = this.state.highest;
    // An expired cached document still runs (offline autonomy); it is reported stale.
    if (cached && this.trust) this.expiry.track(cached.version, cached.expiresAt);
    this.events.emit({
      type: 'agent.started',
      level: 'info',
      message: `agent ${AGENT_VERSION} started`,
      version: cached?.version ?? null,
      data: { bootId: this.deps.bootId, appliedVersion: this.state.meta.appliedVersion },
    });
    const startTarget = cached ? this.admitCached(cached) : null;
    if (startTarget) {
      // Offline autonomy: converge on the cached document before (and whether
      // or not) the broker is reachable.
      this.log.info({ version: startTarget.version, appliedVersion: this.state.meta.appliedVersion }, 'reconciling cached desired state');
      this.reconciler.setTarget(startTarget);
    } else {
      this.scheduleReport();
    }
    this.connection.start();
    this.telemetry.start();
    const resyncMs = this.deps.config.resyncIntervalSeconds * 1000;
    if (resyncMs > 0) {
      const tick = (): void => {
        this.resyncTimer = this.deps.clock.setTimeout(tick, resyncMs);
        if (!this.reconciler.busy) this.reconciler.requestPass();
      };
      this.resyncTimer = this.deps.clock.setTimeout(tick, resyncMs);
    }
    // DD-061: a clock drifts during a long connection; the controller's answer to a repeated presence re-reads it.
    this.clockSync.start();
  }

  /**
   * DD-024: the cached document passed the policy when it arrived, but the
   * policy may be narrower now (new flags) or the filesystem changed (a
   * symlink swapped in). One that fails now is not applied: it is reported
   * like a rejection, and the applied version is kept if it still passes;
   * containers are left as they are.
   */
  private admitCached(cached: DesiredState): DesiredState | null {
    const violation = checkPolicy(cached, this.policy);
    if (violation === null) return cached;
    const reason = `cached version ${cached.version} is refused by the device policy now: ${violation}`;
    this.log.error({ version: cached.version, code: 'DESIRED_POLICY', reason: violation }, 'cached desired state refused by the device policy');
    this.state.rejected = { version: cached.version, code: 'DESIRED_POLICY', reason: reason.slice(0, 2048), at: this.state.iso() };
    this.state.pushError({ code: 'DESIRED_POLICY', message: reason, version: cached.version, workload: null });
    this.events.emit({
      type: 'desired.rejected',
      level: 'error',
      message: `desired state rejected: ${reason}`,
      version: cached.version,
      code: 'DESIRED_POLICY',
      data: { source: 'cache' },
    });
    const applied = this.state.applied;
    if (applied && applied.version !== cached.version && checkPolicy(applied, this.policy) === null) return applied;
    return null;
  }

  /**
   * DD-018: a lock the agent held when it was killed would otherwise keep the
   * workload from ever taking it, and look like the workload's own lock.
   */
  private async releaseLeftoverLocks(): Promise<void> {
    try {
      const released = await this.locks.releaseLeftovers();
      if (released.length > 0) this.log.warn({ workloads: released }, 'removed update locks a previous agent process left behind');
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'cannot check update locks left by a previous agent process');
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.telemetry.close();
    this.window.close();
    this.reports.close();
    this.clockSync.stop();
    for (const t of [this.resyncTimer, this.persistTimer]) this.deps.clock.clearTimeout(t);
    this.wake.stop();
    this.expiry.stop();
    await this.reconciler.close();
    await this.connection.close();
  }

  /** Resolves when no reconcile pass is running (for tests). */
  idle(): Promise<void> {
    return this.reconciler.idle();
  }

  // ---- inbound -------------------------------------------------------------

  private async onMessage(topic: string, payload: Buffer): Promise<void> {
    if (topic === this.topics.commands(this.deps.config.deviceId)) {
      // DD-012: acknowledged on receipt. MQTT.js handles incoming packets one at
      // a time, so a restart (up to stopTimeoutSeconds) must not hold the PUBACK
      // and the desired-state messages behind it. Duplicates and expiry are the
      // handler's business.
      void this.commands.handle(payload);
      return;
    }
    if (topic === this.topics.clock(this.deps.config.deviceId)) {
      this.clockSync.handle(payload);
      return;
    }
    if (topic !== this.topics.desired(this.deps.config.deviceId)) {
      this.log.warn({ topic }, 'message on an unexpected topic ignored');
      return;
    }
    const verdict = classifyDesired(payload, {
      deviceId: this.deps.config.deviceId,
      highestVersion: this.state.highest?.version ?? null,
      maxBytes: this.deps.config.maxDesiredBytes,
      policy: this.policy,
      signatures: this.trust ? { mode: 'required', trusted: this.trust.keys, nowMs: this.time.now() } : { mode: 'off' },
    });
    switch (verdict.kind) {
      case 'ignore':
        this.log.debug({ version: verdict.version, reason: verdict.reason, code: verdict.code }, 'desired state ignored');
        this.events.emit({
          type: 'desired.ignored',
          level: 'info',
          message: `desired version ${verdict.version ?? '?'} ignored: ${verdict.reason}`,
          version: verdict.version,
          ...(verdict.code ? { code: verdict.code } : {}),
        });
        return;
      case 'reject': {
        const r = this.state.rejected;
        if (r && r.version !== null && r.version === verdict.version) return;
        this.log.warn({ code: verdict.code, version: verdict.version, reason: verdict.reason }, 'desired state rejected');
        this.state.rejected = { version: verdict.version, code: verdict.code, reason: verdict.reason.slice(0, 2048), at: this.state.iso() };
        this.state.pushError({ code: verdict.code, message: verdict.reason, version: verdict.version, workload: null });
        this.events.emit({
          type: 'desired.rejected',
          level: 'error',
          message: `desired state rejected: ${verdict.reason}`,
          version: verdict.version,
          code: verdict.code,
        });
        this.scheduleReport(0);
        return;
      }
      case 'refresh':
        this.refreshCredentials(verdict.version, verdict.registryAuth);
        if (verdict.trust) await this.trust?.replace(verdict.trust);
        if (verdict.expiresAt) await this.refreshExpiry(verdict.version, verdict.expiresAt);
        return;
      case 'accept': {
        const doc = verdict.doc;
        // Verified (signed fleets): a key rotation announced by a trusted key is taken over.
        if (doc.trust) await this.trust?.replace(doc.trust.keys);
        this.expiry.track(doc.version, doc.expiresAt);
        this.state.highest = doc;
        this.registryAuth = doc.registryAuth;
        this.log.info({ version: doc.version }, 'desired state received');
        this.events.emit({ type: 'desired.received', level: 'info', message: `desired version ${doc.version} received`, version: doc.version });
        this.unpersisted = doc;
        this.persistAttempt = 0;
        await this.persistThenApply();
        return;
      }
    }
  }

  /**
   * DD-019: the retained document of the version already held is re-delivered
   * on every connect; it brings back the credentials that never reach the
   * disk. Quiet (no event, no new apply): only a pass that failed to pull, or
   * one still running, is retried at once with them.
   */
  private refreshCredentials(version: number, registryAuth: DesiredState['registryAuth']): void {
    if (JSON.stringify(registryAuth ?? null) === JSON.stringify(this.registryAuth ?? null)) return;
    this.registryAuth = registryAuth;
    this.log.info({ version, registries: Object.keys(registryAuth ?? {}) }, 'registry credentials refreshed');
    const failure = this.state.failure?.code;
    if (this.reconciler.busy || (failure !== undefined && PULL_FAILURES.has(failure))) this.reconciler.retryNow();
  }

  /**
   * DD-026: a re-signed copy of the held version moves its expiry; kept in
   * the disk cache, so a restart does not report a stale document that was
   * refreshed.
   */
  private async refreshExpiry(version: number, expiresAt: string): Promise<void> {
    const held = this.state.highest;
    if (!held || held.version !== version || held.expiresAt === expiresAt) return;
    this.state.highest = { ...held, expiresAt };
    this.expiry.track(version, expiresAt);
    await this.state.saveDesired(this.state.highest).catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'cannot cache the refreshed expiry'));
  }

  /** Loud on purpose: a device on an expired document may be cut off from its controller, or held back by an attacker. */
  private onStaleness(stale: Staleness | null): void {
    this.state.stale = stale;
    if (stale) {
      this.log.warn({ version: stale.version, expiredAt: stale.expiredAt }, 'desired state expired: still running it, reporting stale until a fresh one arrives');
      this.events.emit({
        type: 'desired.stale',
        level: 'warn',
        message: `desired version ${stale.version} expired at ${stale.expiredAt}; still running it until a fresh document arrives`,
        version: stale.version,
        code: 'DESIRED_EXPIRED',
      });
    }
    this.scheduleReport(0);
  }

  /**
   * A document is applied only once it is on disk (DD-005): after a crash or
   * a reboot the agent must know what it was doing. While the disk is full the
   * previous version keeps running and the failure is reported; writing is
   * retried with backoff until it succeeds.
   */
  private async persistThenApply(): Promise<void> {
    const doc = this.unpersisted;
    if (!doc || this.closed) return;
    try {
      await this.state.saveDesired(doc);
    } catch (err) {
      const delay = Math.min(60_000, 1000 * 2 ** Math.min(this.persistAttempt++, 6));
      this.log.error({ err: errorMessage(err), version: doc.version, retryInMs: delay }, 'cannot cache desired state; not applying it yet');
      this.state.failure = { code: 'STATE_WRITE_FAILED', message: `version ${doc.version} not applied: cannot write the agent state: ${errorMessage(err)}` };
      this.state.pushError({ code: 'STATE_WRITE_FAILED', message: errorMessage(err), version: doc.version, workload: null });
      this.scheduleReport(0);
      this.deps.clock.clearTimeout(this.persistTimer);
      this.persistTimer = this.deps.clock.setTimeout(() => void this.persistThenApply(), delay);
      return;
    }
    if (this.unpersisted === doc) this.unpersisted = null;
    if (this.state.failure?.code === 'STATE_WRITE_FAILED') this.state.failure = null;
    this.window.offer(doc);
  }

  private onConnected(): void {
    // DD-006: hold new documents until the queue burst is over, then apply only the newest.
    this.window.connected();
    // DD-038: the first telemetry sample on a connection is full.
    this.telemetry.connected();
    this.reporter.flush();
    // DD-052: the first report may wait a moment for the controller's clock.
    this.scheduleReport(this.clockSync.firstReportDelayMs());
  }

  private onSubscribed(): void {
    this.window.subscribed();
  }

  /** DD-052: the corrected clock moved noticeably: expiry and deferred windows are timed again, and the skew is reported at once. */
  private onClockShift(): void {
    const held = this.state.highest;
    if (held && this.trust) this.expiry.track(held.version, held.expiresAt);
    if (this.state.deferred && !this.reconciler.busy) this.reconciler.requestPass();
    this.scheduleReport(0);
  }

  /** A `resync` command: a full pass towards the current target and a fresh report. */
  private resync(): boolean {
    const target = this.reconciler.current !== null;
    if (target && !this.reconciler.busy) this.reconciler.requestPass();
    this.scheduleReport(0);
    return target;
  }

  // ---- reconcile callbacks -------------------------------------------------

  private onStep(doc: DesiredState, step: Step, phase: 'started' | 'succeeded' | 'failed'): void {
    const workloads = step.kind === 'pull' ? step.workloads : [step.workload];
    const activity: Activity | null = step.kind === 'pull' ? 'pulling' : step.kind === 'create' || step.kind === 'start' ? 'starting' : null;
    for (const w of workloads) {
      if (phase === 'started' && activity) this.state.activity.set(w, activity);
      else this.state.activity.delete(w);
    }
    if (phase === 'succeeded' && step.kind === 'pull' && !this.state.meta.pulledImages.includes(step.image)) {
      this.state.meta = { ...this.state.meta, pulledImages: [...this.state.meta.pulledImages, step.image] };
      void this.state.persistMeta();
    }
    if (step.kind === 'remove' && phase === 'succeeded' && !(step.workload in doc.workloads)) this.removedThisPass.add(step.workload);
    if (phase === 'started' && activity) this.scheduleReport();
  }

  private readonly removedThisPass = new Set<string>();

  private onPassStart(doc: DesiredState): void {
    this.removedThisPass.clear();
    const { appliedVersion, failedVersion } = this.state.meta;
    const kind = passKind(doc.version, { appliedVersion, failedVersion, deferredVersion: this.state.deferred?.version ?? null });
    // Re-checking a deferred version, a resync or holding back a failed one changes nothing the operator
    // needs to hear about (metered links), and must not show the device as applying while it runs.
    this.state.passRunning = kind === 'apply';
    if (kind === 'apply') {
      this.events.emit({ type: 'reconcile.started', level: 'info', message: `applying version ${doc.version}`, version: doc.version });
      // Progress, not an outcome: paced, so an update shorter than the pacing is one report (metered links).
      this.scheduleReport();
    }
  }

  private onPassSuccess(doc: DesiredState, result: RunResult): void {
    this.log.debug({ version: doc.version, result: result.kind }, 'pass done');
    this.state.passRunning = false;
    this.state.activity.clear();
    if (this.state.failure?.code !== 'STATE_WRITE_FAILED') this.state.failure = null;
    if (result.kind === 'applied') {
      this.state.removed = { names: [...this.removedThisPass], version: doc.version };
      this.state.errors = this.state.errors.filter((e) => e.code === 'STATE_WRITE_FAILED' && this.unpersisted !== null);
      const r = this.state.rejected;
      // A refused newer version stays reported until something newer applies; but the version of
      // a document that failed its signature check is whatever a forger wrote (DD-026): it must not
      // keep the device looking failed forever.
      this.state.rejected = r && (r.version ?? 0) > doc.version && !UNTRUSTED_VERSION.has(r.code) ? r : null;
      this.log.info({ version: doc.version }, 'desired state applied');
      this.events.emit({ type: 'reconcile.succeeded', level: 'info', message: `version ${doc.version} applied`, version: doc.version });
    } else if (result.kind === 'rolled-back') {
      this.state.pushError({ code: 'UPDATE_UNHEALTHY', message: `${result.failure.workload}: ${result.failure.reason}`, version: doc.version, workload: result.failure.workload });
    }
    this.scheduleReport(0);
  }

  private onPassFailure(doc: DesiredState, err: OutpostError, retryInMs: number): void {
    this.state.passRunning = false;
    this.state.activity.clear();
    this.state.failure = { code: err.code, message: err.message };
    this.state.pushError({ code: err.code, message: err.message, version: doc.version, workload: null });
    this.events.emit({
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

  /** A progress report waits `reportDelayMs` (the profile's pacing) to go out with the next; 0 sends an outcome at once. */
  private scheduleReport(delayMs?: number): void {
    this.reports.schedule(delayMs);
  }

  private sendReport(): void {
    buildReport({
      deviceId: this.deps.config.deviceId,
      runtime: this.deps.runtime,
      state: this.state,
      target: this.reconciler.current ?? this.state.highest,
      agent: { version: AGENT_VERSION, bootId: this.deps.bootId, startedAt: this.startedAt },
      clock: this.time.current,
    }).then(
      (r) => this.reporter.report(r),
      (err: unknown) => this.log.warn({ err: errorMessage(err) }, 'cannot build report'),
    );
  }

  // ---- presence ------------------------------------------------------------

  private async nextEpoch(): Promise<number> {
    const epoch = Math.max(this.state.meta.lastEpoch + 1, this.deps.clock.now());
    this.state.meta = { ...this.state.meta, lastEpoch: epoch };
    await this.state.persistMeta();
    return epoch;
  }

  private presence(status: 'online' | 'offline', epoch: number): string {
    if (status === 'online') this.time.onlineSent(epoch);
    const p: Presence = {
      protocol: PROTOCOL_VERSION,
      deviceId: this.deps.config.deviceId,
      status,
      epoch,
      at: this.state.iso(),
      agentVersion: AGENT_VERSION,
      bootId: this.deps.bootId,
    };
    return JSON.stringify(p);
  }
}
