import { join } from 'node:path';
import { z } from 'zod';
import type { Logger } from 'pino';
import { DesiredState } from '../../shared/schemas/desired-state.js';
import { OutpostError } from '../../shared/errors.js';
import { ensureDir, readFileIfExists, writeFileAtomic } from './atomic-file.js';

export const RollbackRecord = z.object({
  version: z.number().int().min(1),
  workload: z.string(),
  reason: z.string(),
  exitCode: z.number().int().nullable(),
  logs: z.string(),
  health: z.string().nullable(),
  at: z.string(),
  repullNeeded: z.boolean(),
});
export type RollbackRecord = z.infer<typeof RollbackRecord>;

export const AgentMeta = z.object({
  deviceId: z.string(),
  appliedVersion: z.number().int().min(1).nullable(),
  appliedAt: z.string().nullable(),
  lastEpoch: z.number().int().min(0),
  /** A version that failed its health gate: never retried; the previous version runs. */
  failedVersion: z.number().int().min(1).nullable().default(null),
  rollback: RollbackRecord.nullable().default(null),
  /** Images this agent pulled (candidates for clean-up once two versions old). */
  pulledImages: z.array(z.string()).default([]),
  /** The last reading of the device's clock against the controller's (DD-052). */
  clock: z.object({ skewMs: z.number().int(), rttMs: z.number().int().min(0).nullable(), measuredAt: z.string() }).nullable().default(null),
});
export type AgentMeta = z.infer<typeof AgentMeta>;

/**
 * The agent's disk cache: the newest accepted desired document (so workloads
 * come back after a reboot while offline) and the meta record (last applied
 * version, last connection epoch). Everything read back is validated; a
 * corrupt file is reported and treated as absent, never trusted.
 */
export class StateStore {
  private readonly desiredPath: string;
  private readonly appliedPath: string;
  private readonly metaPath: string;

  constructor(
    private readonly dir: string,
    private readonly deviceId: string,
    private readonly logger: Logger,
  ) {
    this.desiredPath = join(dir, 'desired.json');
    this.appliedPath = join(dir, 'applied.json');
    this.metaPath = join(dir, 'agent-state.json');
  }

  async init(): Promise<void> {
    await ensureDir(this.dir);
  }

  loadDesired(): Promise<DesiredState | null> {
    return this.loadDoc(this.desiredPath, 'cached desired state');
  }

  /** The last version fully applied: what a rollback returns to. */
  loadApplied(): Promise<DesiredState | null> {
    return this.loadDoc(this.appliedPath, 'applied desired state');
  }

  /** Registry credentials never reach the disk (DD-014). */
  async saveDesired(doc: DesiredState): Promise<void> {
    await this.write(this.desiredPath, JSON.stringify(withoutSecrets(doc)));
  }

  async saveApplied(doc: DesiredState): Promise<void> {
    await this.write(this.appliedPath, JSON.stringify(withoutSecrets(doc)));
  }

  private async loadDoc(path: string, what: string): Promise<DesiredState | null> {
    const text = await readFileIfExists(path);
    if (text === null) return null;
    try {
      const doc = DesiredState.parse(JSON.parse(text));
      if (doc.deviceId !== this.deviceId) {
        this.logger.error({ cachedFor: doc.deviceId }, `${what} belongs to another device; ignoring it`);
        return null;
      }
      return doc;
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, `${what} is corrupt; ignoring it`);
      return null;
    }
  }

  async loadMeta(): Promise<AgentMeta> {
    const fresh: AgentMeta = {
      deviceId: this.deviceId,
      appliedVersion: null,
      appliedAt: null,
      lastEpoch: 0,
      failedVersion: null,
      rollback: null,
      pulledImages: [],
      clock: null,
    };
    const text = await readFileIfExists(this.metaPath);
    if (text === null) return fresh;
    try {
      const meta = AgentMeta.parse(JSON.parse(text));
      if (meta.deviceId !== this.deviceId) return fresh;
      return meta;
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, 'agent state file is corrupt; starting from empty state');
      return fresh;
    }
  }

  async saveMeta(meta: AgentMeta): Promise<void> {
    await this.write(this.metaPath, JSON.stringify(meta));
  }

  private async write(path: string, data: string): Promise<void> {
    try {
      await writeFileAtomic(path, data);
    } catch (err) {
      throw new OutpostError('STATE_WRITE_FAILED', `cannot write ${path}: ${(err as Error).message}`, { cause: err });
    }
  }
}

function withoutSecrets(doc: DesiredState): DesiredState {
  const { registryAuth: _secret, ...rest } = doc;
  return rest as DesiredState;
}
