import type { Redis } from 'ioredis';
import { ControllerError } from '../errors.js';
import type { Keys } from '../registry/keys.js';
import { RolloutState } from './model.js';

/** Creates the rollout unless it exists. KEYS: rollout hash, index, active set. ARGV: id, state json, revision. */
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'revision', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
return 1`;

/**
 * Compare-and-set on the revision: writes only when the stored revision is
 * the one the writer read, so two controllers (or a tick and an operation)
 * can never both apply a step on the same base. -1: gone, 0: conflict, 1: saved.
 * KEYS: rollout hash. ARGV: state json, expected revision, new revision.
 */
const SAVE = `
local cur = redis.call('HGET', KEYS[1], 'revision')
if not cur then return -1 end
if tonumber(cur) ~= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'revision', ARGV[3])
return 1`;

export type SaveResult = 'saved' | 'conflict' | 'gone';

/** Rollout states in Redis, validated by the zod schema on every read. */
export class RolloutStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async create(state: RolloutState): Promise<void> {
    const valid = RolloutState.parse(state);
    const created = await this.redis.eval(
      CREATE,
      3,
      this.keys.rollout(valid.id),
      this.keys.rollouts(),
      this.keys.activeRollouts(),
      valid.id,
      JSON.stringify(valid),
      String(valid.revision),
    );
    if (created !== 1) throw new ControllerError('ROLLOUT_EXISTS', `rollout ${valid.id} already exists`);
  }

  async get(id: string): Promise<RolloutState | null> {
    const raw = await this.redis.hget(this.keys.rollout(id), 'state');
    return raw === null ? null : RolloutState.parse(JSON.parse(raw));
  }

  async require(id: string): Promise<RolloutState> {
    const state = await this.get(id);
    if (!state) throw new ControllerError('ROLLOUT_NOT_FOUND', `rollout ${id} does not exist`);
    return state;
  }

  /** Writes `next` only if the stored revision is still `expectedRevision`. */
  async save(next: RolloutState, expectedRevision: number): Promise<SaveResult> {
    const valid = RolloutState.parse(next);
    if (valid.revision <= expectedRevision) throw new Error(`rollout ${valid.id}: a saved state must have a higher revision than ${expectedRevision}`);
    const res = await this.redis.eval(SAVE, 1, this.keys.rollout(valid.id), JSON.stringify(valid), String(expectedRevision), String(valid.revision));
    return res === 1 ? 'saved' : res === 0 ? 'conflict' : 'gone';
  }

  async ids(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.rollouts())).sort();
  }

  /** Every rollout, newest first. */
  async all(): Promise<RolloutState[]> {
    const ids = await this.ids();
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hget(this.keys.rollout(id), 'state');
    const rows = (await pipeline.exec()) ?? [];
    const out: RolloutState[] = [];
    for (const [err, raw] of rows) {
      if (err) throw err;
      if (typeof raw === 'string') out.push(RolloutState.parse(JSON.parse(raw)));
    }
    return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || a.id.localeCompare(b.id));
  }

  /** Rollouts that still need ticks. */
  async activeIds(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.activeRollouts())).sort();
  }

  async setActive(id: string, active: boolean): Promise<void> {
    if (active) await this.redis.sadd(this.keys.activeRollouts(), id);
    else await this.redis.srem(this.keys.activeRollouts(), id);
  }

  /** The revision last published on MQTT (0 when never). */
  async publishedRevision(id: string): Promise<number> {
    return Number((await this.redis.hget(this.keys.rollout(id), 'publishedRevision')) ?? 0);
  }

  async markPublished(id: string, revision: number): Promise<void> {
    await this.redis.hset(this.keys.rollout(id), 'publishedRevision', String(revision));
  }
}
