import type { Logger } from 'pino';
import type { Clock } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import type { DesiredState } from '../shared/schemas/desired-state.js';
import type { AgentState } from './agent-state.js';
import type { ExpiryWatch } from './apply/expiry-watch.js';
import { classifyDesired } from './mqtt/desired-inbox.js';
import type { AgentPolicy } from './policy/admit-document.js';
import type { EventSink } from './reconcile/event-sink.js';
import type { TrustStore } from './state/trust-store.js';

/** Pass failures that credentials may cure (some registries answer "not found" to anonymous pulls). */
const PULL_FAILURES: ReadonlySet<string> = new Set(['REGISTRY_AUTH', 'IMAGE_NOT_FOUND', 'IMAGE_PULL_FAILED']);

export interface DesiredIntakeDeps {
  readonly deviceId: string;
  readonly maxDesiredBytes: number;
  /** DD-024: the device's own policy. */
  readonly policy: AgentPolicy;
  /** Keys the device trusts for signed documents; null in an unsigned fleet (DD-026). */
  readonly trust: TrustStore | null;
  /** DD-052: the controller's time, what a document's expiry is compared with. */
  readonly time: { now(): number };
  /** The device's own clock: the back-off timer of a document that cannot be written. */
  readonly clock: Clock;
  readonly state: AgentState;
  readonly events: EventSink;
  readonly expiry: ExpiryWatch;
  readonly logger: Logger;
  readonly reconciler: { readonly busy: boolean; retryNow(): void };
  /** Hands an accepted document, now on disk, on (to the settle window). */
  offer(doc: DesiredState): void;
  scheduleReport(delayMs?: number): void;
}

/**
 * The desired-state messages of the device's topic: each is classified
 * (mqtt/desired-inbox.ts); an accepted one is written to disk before it goes
 * on (DD-005), a refused one is reported, and the retained copy of the
 * version already held refreshes its credentials, keys and expiry.
 */
export class DesiredIntake {
  /** Accepted but not yet on disk (disk full): applied only once it is persisted. */
  private unpersisted: DesiredState | null = null;
  private persistTimer: NodeJS.Timeout | undefined;
  private persistAttempt = 0;
  private auth: DesiredState['registryAuth'] = undefined;
  private closed = false;

  constructor(private readonly deps: DesiredIntakeDeps) {}

  /** Registry credentials of the newest document: memory only, never on disk. */
  get registryAuth(): DesiredState['registryAuth'] {
    return this.auth;
  }

  hasUnpersisted(): boolean {
    return this.unpersisted !== null;
  }

  close(): void {
    this.closed = true;
    this.deps.clock.clearTimeout(this.persistTimer);
  }

  async handle(payload: Buffer): Promise<void> {
    const verdict = classifyDesired(payload, {
      deviceId: this.deps.deviceId,
      highestVersion: this.deps.state.highest?.version ?? null,
      maxBytes: this.deps.maxDesiredBytes,
      policy: this.deps.policy,
      signatures: this.deps.trust ? { mode: 'required', trusted: this.deps.trust.keys, nowMs: this.deps.time.now() } : { mode: 'off' },
    });
    switch (verdict.kind) {
      case 'ignore':
        this.deps.logger.debug({ version: verdict.version, reason: verdict.reason, code: verdict.code }, 'desired state ignored');
        this.deps.events.emit({
          type: 'desired.ignored',
          level: 'info',
          message: `desired version ${verdict.version ?? '?'} ignored: ${verdict.reason}`,
          version: verdict.version,
          ...(verdict.code ? { code: verdict.code } : {}),
        });
        return;
      case 'reject': {
        const r = this.deps.state.rejected;
        if (r && r.version !== null && r.version === verdict.version) return;
        this.deps.logger.warn({ code: verdict.code, version: verdict.version, reason: verdict.reason }, 'desired state rejected');
        this.deps.state.rejected = { version: verdict.version, code: verdict.code, reason: verdict.reason.slice(0, 2048), at: this.deps.state.iso() };
        this.deps.state.pushError({ code: verdict.code, message: verdict.reason, version: verdict.version, workload: null });
        this.deps.events.emit({
          type: 'desired.rejected',
          level: 'error',
          message: `desired state rejected: ${verdict.reason}`,
          version: verdict.version,
          code: verdict.code,
        });
        this.deps.scheduleReport(0);
        return;
      }
      case 'refresh':
        this.refreshCredentials(verdict.version, verdict.registryAuth);
        if (verdict.trust) await this.deps.trust?.replace(verdict.trust);
        if (verdict.expiresAt) await this.refreshExpiry(verdict.version, verdict.expiresAt);
        return;
      case 'accept': {
        const doc = verdict.doc;
        // Verified (signed fleets): a key rotation announced by a trusted key is taken over.
        if (doc.trust) await this.deps.trust?.replace(doc.trust.keys);
        this.deps.expiry.track(doc.version, doc.expiresAt);
        this.deps.state.highest = doc;
        this.auth = doc.registryAuth;
        this.deps.logger.info({ version: doc.version }, 'desired state received');
        this.deps.events.emit({ type: 'desired.received', level: 'info', message: `desired version ${doc.version} received`, version: doc.version });
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
    if (JSON.stringify(registryAuth ?? null) === JSON.stringify(this.auth ?? null)) return;
    this.auth = registryAuth;
    this.deps.logger.info({ version, registries: Object.keys(registryAuth ?? {}) }, 'registry credentials refreshed');
    const failure = this.deps.state.failure?.code;
    if (this.deps.reconciler.busy || (failure !== undefined && PULL_FAILURES.has(failure))) this.deps.reconciler.retryNow();
  }

  /**
   * DD-026: a re-signed copy of the held version moves its expiry; kept in
   * the disk cache, so a restart does not report a stale document that was
   * refreshed.
   */
  private async refreshExpiry(version: number, expiresAt: string): Promise<void> {
    const held = this.deps.state.highest;
    if (!held || held.version !== version || held.expiresAt === expiresAt) return;
    this.deps.state.highest = { ...held, expiresAt };
    this.deps.expiry.track(version, expiresAt);
    await this.deps.state.saveDesired(this.deps.state.highest).catch((err: unknown) => this.deps.logger.warn({ err: errorMessage(err) }, 'cannot cache the refreshed expiry'));
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
      await this.deps.state.saveDesired(doc);
    } catch (err) {
      const delay = Math.min(60_000, 1000 * 2 ** Math.min(this.persistAttempt++, 6));
      this.deps.logger.error({ err: errorMessage(err), version: doc.version, retryInMs: delay }, 'cannot cache desired state; not applying it yet');
      this.deps.state.failure = { code: 'STATE_WRITE_FAILED', message: `version ${doc.version} not applied: cannot write the agent state: ${errorMessage(err)}` };
      this.deps.state.pushError({ code: 'STATE_WRITE_FAILED', message: errorMessage(err), version: doc.version, workload: null });
      this.deps.scheduleReport(0);
      this.deps.clock.clearTimeout(this.persistTimer);
      this.persistTimer = this.deps.clock.setTimeout(() => void this.persistThenApply(), delay);
      return;
    }
    if (this.unpersisted === doc) this.unpersisted = null;
    if (this.deps.state.failure?.code === 'STATE_WRITE_FAILED') this.deps.state.failure = null;
    this.deps.offer(doc);
  }

}
