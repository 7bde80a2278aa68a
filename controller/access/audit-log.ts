import type { Redis } from 'ioredis';
import type { Keys } from '../registry/keys.js';
import { StoredAuditEntry, type AuditEntry } from './audit-entry.js';

// KEYS: the log (sorted set, score = seq), the seq counter. ARGV: entry JSON, most entries kept.
// One step: numbering, adding and trimming cannot be torn apart by a crash or a second controller.
const APPEND = `
local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], seq, ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[2]) + 1))
return seq`;

export interface AuditPage {
  /** Newest first. */
  entries: AuditEntry[];
  /** Pass as `before` for the next (older) page; null when this page reached the oldest entry kept. */
  nextBefore: number | null;
}

/**
 * The audit log of mutating API calls (DD-025): a sorted set scored by a
 * sequence number, trimmed to the newest `maxEntries` in the same step that
 * adds an entry, so its size is bounded whatever the traffic. Entries carry
 * no secrets (audit-entry.ts redacts bodies).
 */
export class AuditLog {
  constructor(private readonly deps: { redis: Redis; keys: Keys; maxEntries: number }) {}

  /** Appends an entry; answers its seq. */
  async append(entry: StoredAuditEntry): Promise<number> {
    const json = JSON.stringify(StoredAuditEntry.parse(entry));
    return Number(await this.deps.redis.eval(APPEND, 2, this.deps.keys.audit(), this.deps.keys.auditSeq(), json, String(this.deps.maxEntries)));
  }

  /** Up to `limit` entries older than `before` (a seq), newest first. */
  async list(opts: { limit: number; before?: number | undefined }): Promise<AuditPage> {
    const max = opts.before === undefined ? '+inf' : `(${opts.before}`;
    const raw = await this.deps.redis.zrevrangebyscore(this.deps.keys.audit(), max, '-inf', 'WITHSCORES', 'LIMIT', 0, opts.limit);
    const entries: AuditEntry[] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) {
      entries.push({ seq: Number(raw[i + 1]), ...StoredAuditEntry.parse(JSON.parse(raw[i] as string)) });
    }
    const last = entries[entries.length - 1];
    return { entries, nextBefore: entries.length === opts.limit && last !== undefined && last.seq > 1 ? last.seq : null };
  }

  /** Entries kept now (at most maxEntries). */
  size(): Promise<number> {
    return this.deps.redis.zcard(this.deps.keys.audit());
  }
}
