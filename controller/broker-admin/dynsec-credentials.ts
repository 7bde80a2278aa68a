import type { Redis } from 'ioredis';
import type { BackoffPolicy } from '../../shared/backoff.js';
import { credentialRecord } from '../../shared/device-credentials.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { Topics } from '../../shared/topics.js';
import { RetryTimer } from '../coordination/retry-timer.js';
import type { Keys } from '../registry/keys.js';
import type { BrokerCredentials } from './broker-credentials.js';
import type { DynsecClient } from './dynsec-client.js';
import { deviceAcls, deviceRoleName } from './dynsec-acl.js';
import { bootstrapDynsec } from './dynsec-bootstrap.js';
import { DYNSEC_ALREADY, DynsecClientInfo } from './dynsec-schemas.js';
import { executeDynsecSteps, type StepOutcome } from './dynsec-steps.js';
import type { PendingSecrets } from './pending-secrets.js';
import { planDynsecRepair, type DynsecStep } from './plan-dynsec-repair.js';
import { observeDynsec, readRegistryCredentials } from './observe-dynsec.js';

const DEFAULT_RETRY: BackoffPolicy = { baseMs: 1000, capMs: 60_000, factor: 2 };

export interface DynsecCredentialsDeps {
  redis: Redis;
  keys: Keys;
  topics: Topics;
  client: DynsecClient;
  pending: PendingSecrets;
  /** The controller's own MQTT identity; created with its role if Mosquitto does not know it. */
  service: { username: string; password: string };
  logger: Logger;
  /** Full repair pass every so often (0: only at connect and after failures). */
  repairEveryMs: number;
  retry?: BackoffPolicy;
}

export interface RepairResult {
  steps: number;
  failed: number;
}

/**
 * Device credentials on Mosquitto through its dynamic-security plugin
 * (DD-030). Each enrolled device (credential record in Redis) is a dynsec
 * client named and bound to its id, with a role of its own holding the
 * exact-topic rules of protocol §5. The registry is written first, with the
 * new secret kept beside its hash until Mosquitto has it; then the client
 * is created, changed or deleted here. Whatever a crash or an outage left
 * undone, the repair pass (at every admin connect, periodically, and with
 * back-off after a failure) finds by comparing the two whole sides.
 */
export class DynsecBrokerCredentials implements BrokerCredentials {
  readonly kind = 'mosquitto-dynsec';
  readonly keepsPendingSecret = true;
  private readonly retry: RetryTimer;
  private repairing: Promise<RepairResult> | null = null;
  private periodic: NodeJS.Timeout | undefined;
  private closed = false;
  private needsBootstrap = true;

  constructor(private readonly deps: DynsecCredentialsDeps) {
    this.retry = new RetryTimer(() => this.repairAndSettle(), deps.retry ?? DEFAULT_RETRY, deps.logger, 'broker credential repair');
  }

  async start(waitMs: number): Promise<void> {
    let ready!: () => void;
    const first = new Promise<void>((r) => (ready = r));
    // Every (re)connect: the broker may have been restored from an older state.
    this.deps.client
      .start(() => {
        this.needsBootstrap = true;
        void this.repairAndSettle()
          .catch((err: unknown) => {
            this.deps.logger.warn({ err: errorMessage(err), code: codeOf(err) }, 'broker admin bootstrap failed; retrying');
            this.retry.settled(true);
          })
          .finally(ready);
      })
      .catch(() => undefined);
    if (this.deps.repairEveryMs > 0) this.schedulePeriodic();
    const timer = new Promise<void>((r) => setTimeout(r, waitMs).unref());
    await Promise.race([first, timer]);
  }

  async credentialChanged(deviceId: string): Promise<number> {
    try {
      const outcome = await this.syncOne(deviceId);
      if (outcome?.error) throw outcome.error;
      return 1;
    } catch (err) {
      this.deps.logger.warn({ deviceId, err: errorMessage(err), code: codeOf(err) }, 'broker credential not applied yet; the repair pass retries');
      this.retry.settled(true);
      return 0;
    }
  }

  async setPurgeSecret(deviceId: string, secret: string): Promise<void> {
    // The record first: a repair pass in between keeps the client instead of deleting it.
    await this.deps.redis.set(this.deps.keys.credential(deviceId), credentialRecord(secret));
    const [outcome] = await executeDynsecSteps(this.deps.client, this.deps.topics, [{ kind: 'create', deviceId, secret }]);
    if (outcome?.error) throw outcome.error;
  }

  async revoke(deviceId: string): Promise<void> {
    await this.deps.redis.del(this.deps.keys.credential(deviceId));
    await this.deps.pending.discard(deviceId);
    const [outcome] = await executeDynsecSteps(this.deps.client, this.deps.topics, [{ kind: 'delete', deviceId }]);
    if (outcome?.error) throw outcome.error;
  }

  /** One full comparison of Mosquitto's clients with the registry; single flight. */
  repair(): Promise<RepairResult> {
    this.repairing ??= this.runRepair().finally(() => {
      this.repairing = null;
    });
    return this.repairing;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.periodic);
    this.retry.close();
    await this.repairing?.catch(() => undefined);
    await this.deps.client.close();
  }

  private async repairAndSettle(): Promise<void> {
    if (this.closed) return;
    if (this.needsBootstrap) {
      await bootstrapDynsec(this.deps.client, this.deps.topics, this.deps.service);
      this.needsBootstrap = false;
    }
    const result = await this.repair();
    this.retry.settled(result.failed > 0);
  }

  private async runRepair(): Promise<RepairResult> {
    const { client, redis, keys, pending, logger } = this.deps;
    // Mosquitto first, then the registry: a device enrolled in between is
    // "entitled, no client" (created, harmless), never "client, not entitled" (deleted).
    const observed = await observeDynsec(client);
    const registry = await readRegistryCredentials(redis, keys, pending);
    const steps = planDynsecRepair(observed, registry, (id) => deviceAcls(this.deps.topics, id));
    if (steps.length === 0) return { steps: 0, failed: 0 };
    const outcomes = await this.apply(await this.stillValid(steps));
    const failed = outcomes.filter((o) => o.error !== null);
    logger.info({ steps: steps.length, failed: failed.length, kinds: countKinds(steps) }, 'broker credentials repaired');
    for (const f of failed.slice(0, 10)) logger.warn({ deviceId: f.step.deviceId, step: f.step.kind, err: f.error?.message, code: f.error?.code }, 'broker credential repair step failed');
    return { steps: steps.length, failed: failed.length };
  }

  /** Deletions are re-checked just before they run: a device enrolled since the snapshot keeps its client. */
  private async stillValid(steps: DynsecStep[]): Promise<DynsecStep[]> {
    const deletes = steps.filter((s) => s.kind === 'delete' || s.kind === 'delete-role' || s.kind === 'discard-pending');
    if (deletes.length === 0) return steps;
    const records = await this.deps.redis.mget(...deletes.map((s) => this.deps.keys.credential(s.deviceId)));
    const revived = new Set(deletes.filter((_, i) => typeof records[i] === 'string').map((s) => s.deviceId));
    return steps.filter((s) => !(revived.has(s.deviceId) && (s.kind === 'delete' || s.kind === 'delete-role' || s.kind === 'discard-pending')));
  }

  /** Applies steps, then forgets each secret Mosquitto confirmed (only if no newer one replaced it). */
  private async apply(steps: readonly DynsecStep[]): Promise<StepOutcome[]> {
    const outcomes = await executeDynsecSteps(this.deps.client, this.deps.topics, steps);
    for (const { step, error } of outcomes) {
      if (error !== null) continue;
      if ((step.kind === 'create' || step.kind === 'set-password') && step.secret !== null) await this.deps.pending.clear(step.deviceId, step.secret);
      else if (step.kind === 'discard-pending' || step.kind === 'delete') await this.deps.pending.discard(step.deviceId);
    }
    return outcomes;
  }

  /** The repair pass for one device: its client against its record and pending secret. */
  private async syncOne(deviceId: string): Promise<StepOutcome | undefined> {
    const { client, redis, keys, pending } = this.deps;
    const info = await client.one({ command: 'getClient', username: deviceId }, [DYNSEC_ALREADY.clientNotFound]);
    const parsed = info.error === undefined ? DynsecClientInfo.safeParse(info.data) : null;
    const roles = parsed?.success ? parsed.data.client.roles.map((r) => r.rolename) : [];
    const [record, secret] = await Promise.all([redis.get(keys.credential(deviceId)), pending.get(deviceId)]);
    const steps = planDynsecRepair(
      { clients: info.error === undefined ? [{ username: deviceId, roles }] : [], roles: info.error === undefined ? [] : [deviceRoleName(deviceId)] },
      { entitled: new Set(record === null ? [] : [deviceId]), pending: new Map(secret === null ? [] : [[deviceId, secret]]) },
    );
    const outcomes = await this.apply(steps);
    return outcomes.find((o) => o.error !== null) ?? outcomes[0];
  }

  private schedulePeriodic(): void {
    this.periodic = setTimeout(() => {
      if (this.closed) return;
      this.repairAndSettle()
        .catch((err: unknown) => {
          this.deps.logger.warn({ err: errorMessage(err), code: codeOf(err) }, 'broker credential repair failed');
          this.retry.settled(true);
        })
        .finally(() => this.schedulePeriodic());
    }, this.deps.repairEveryMs);
    this.periodic.unref();
  }
}

function codeOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

function countKinds(steps: readonly DynsecStep[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of steps) out[s.kind] = (out[s.kind] ?? 0) + 1;
  return out;
}
