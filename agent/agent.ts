import type { Logger } from 'pino';
import type { Clock } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
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
import { PassFeedback } from './pass-feedback.js';
import { DesiredIntake } from './desired-intake.js';
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
 * The device agent: wires the MQTT session, the desired-state intake (inbox
 * and disk cache), the settle window, the single-flight reconciler with the
 * update runner and what its passes report, the reporter, commands, telemetry
 * and the controller's clock.
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
  private readonly intake: DesiredIntake;
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
    const feedback = new PassFeedback({
      state: this.state,
      events: this.events,
      logger: this.log,
      scheduleReport: (delayMs) => this.scheduleReport(delayMs),
      hasUnpersisted: () => this.intake.hasUnpersisted(),
    });
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
          registryAuth: () => this.intake.registryAuth,
          pass: {
            prober: deps.prober ?? netProber,
            guard: createGuard(this.policy, deps.runtime),
            ...(deps.afterStep ? { afterStep: deps.afterStep } : {}),
            onStep: (step, phase) => feedback.onStep(doc, step, phase),
            ...(deps.gate ? { gate: deps.gate } : {}),
          },
          wakeAt: (atMs) => this.wake.at(atMs),
          wakeWhenUnlocked: (workloads) => this.wake.whenUnlocked(workloads),
        }),
      onStart: (doc) => feedback.onPassStart(doc),
      onSuccess: (doc, result) => feedback.onPassSuccess(doc, result),
      onFailure: (doc, err, retryInMs) => feedback.onPassFailure(doc, err, retryInMs),
      clock: deps.clock,
      random: deps.random,
      retry: { baseMs: config.retryBaseMs, capMs: config.retryCapMs, factor: 2 },
      logger: this.log.child({ component: 'reconciler' }),
    });
    this.intake = new DesiredIntake({
      deviceId: config.deviceId,
      maxDesiredBytes: config.maxDesiredBytes,
      policy: this.policy,
      trust: this.trust,
      time: this.time,
      clock: deps.clock,
      state: this.state,
      events: this.events,
      expiry: this.expiry,
      logger: this.log,
      reconciler: this.reconciler,
      offer: (doc) => this.window.offer(doc),
      scheduleReport: (delayMs) => this.scheduleReport(delayMs),
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
    this.intake.close();
    this.deps.clock.clearTimeout(this.resyncTimer);
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
    await this.intake.handle(payload);
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
