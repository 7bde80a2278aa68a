import type { Redis } from 'ioredis';
import { z } from 'zod';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { Timestamp } from '../../shared/schemas/common.js';
import { ControllerError } from '../errors.js';
import type { Keys } from '../registry/keys.js';
import { issueToken, parseToken, secretMatches, TOKEN_ID_PATTERN, type IssuedToken } from './api-token.js';
import { Role, type Principal } from './roles.js';

export const TokenId = z.string().regex(TOKEN_ID_PATTERN, 'token ids are 12 hex characters (see `outpost token ls`)');
export const TokenName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, 'token names are 1-64 chars of A-Z a-z 0-9 . _ @ -, starting with a letter or digit');

/** An API token as listed: never its secret, nor the digest of it. */
export const ApiToken = z.strictObject({
  id: TokenId,
  name: TokenName,
  role: Role,
  createdAt: Timestamp,
  createdBy: z.string().describe('Name of the token (or config-admin) that created it'),
  lastUsedAt: Timestamp.nullable().describe('Last request made with it, to within a minute; null before the first'),
});
export type ApiToken = z.infer<typeof ApiToken>;

/** The immutable part stored in Redis (`record` field of the token hash). */
const StoredToken = ApiToken.omit({ lastUsedAt: true }).extend({ digest: z.string() });
type StoredToken = z.infer<typeof StoredToken>;

/** lastUsedAt is written at most this often per token: not one Redis write per request. */
const TOUCH_EVERY_MS = 60_000;

// KEYS: token hash, token index, name index. ARGV: id, name, record JSON.
// 0: name taken; -1: id taken (retry with another); 1: created.
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
if redis.call('HSETNX', KEYS[3], ARGV[2], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'record', ARGV[3], 'name', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return 1`;

// KEYS: token hash, token index, name index. ARGV: id. 1 when it existed.
const REVOKE = `
local name = redis.call('HGET', KEYS[1], 'name')
if not name then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
if redis.call('HGET', KEYS[3], name) == ARGV[1] then redis.call('HDEL', KEYS[3], name) end
return 1`;

// Only on a token that still exists: a request racing its revocation must not bring the hash back.
const TOUCH = `
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'lastUsedAt', ARGV[1]) end
return 0`;

export interface TokenStoreDeps {
  redis: Redis;
  keys: Keys;
  now: () => number;
  logger: Logger;
  /** Injectable randomness for tests. */
  random?: (size: number) => Buffer;
}

/**
 * API tokens with roles (DD-025), one Redis hash per token
 * (`token:<id>`: record, name, lastUsedAt) plus an id index and a name index
 * (names are unique among live tokens). Revocation deletes the hash, and
 * every request reads it: a revoked token is refused on the next request,
 * with no cache to expire.
 */
export class TokenStore {
  constructor(private readonly deps: TokenStoreDeps) {}

  /** A new token; the answer's `token` is the only time the bearer value exists outside the caller. */
  async create(input: { name: string; role: Role; createdBy: string }): Promise<{ token: ApiToken; secret: string }> {
    const { keys, redis } = this.deps;
    for (let attempt = 0; attempt < 3; attempt++) {
      const issued: IssuedToken = issueToken(this.deps.random);
      const stored: StoredToken = StoredToken.parse({
        id: issued.id,
        name: input.name,
        role: input.role,
        createdAt: new Date(this.deps.now()).toISOString(),
        createdBy: input.createdBy,
        digest: issued.digest,
      });
      const res = await redis.eval(CREATE, 3, keys.token(issued.id), keys.tokens(), keys.tokenNames(), issued.id, input.name, JSON.stringify(stored));
      if (res === 0) throw new ControllerError('TOKEN_EXISTS', `a token named ${input.name} exists; revoke it first or choose another name`);
      if (res === 1) return { token: publicView(stored, null), secret: issued.token };
    }
    throw new ControllerError('INTERNAL', 'could not allocate a token id');
  }

  /** Every live token, oldest first. */
  async list(): Promise<ApiToken[]> {
    const ids = (await this.deps.redis.smembers(this.deps.keys.tokens())).sort();
    if (ids.length === 0) return [];
    const pipeline = this.deps.redis.pipeline();
    for (const id of ids) pipeline.hmget(this.deps.keys.token(id), 'record', 'lastUsedAt');
    const rows = (await pipeline.exec()) ?? [];
    const tokens: ApiToken[] = [];
    for (const [err, value] of rows) {
      if (err) throw err;
      const [record, lastUsedAt] = value as [string | null, string | null];
      if (record !== null) tokens.push(publicView(StoredToken.parse(JSON.parse(record)), lastUsedAt));
    }
    return tokens.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  async get(id: string): Promise<ApiToken | null> {
    const found = await this.read(id);
    return found && publicView(found.stored, found.lastUsedAt);
  }

  /** Revokes at once: the next request with the token is refused. Answers the token as it was. */
  async revoke(id: string): Promise<ApiToken> {
    const token = await this.get(id);
    const removed = token !== null && (await this.deps.redis.eval(REVOKE, 3, this.deps.keys.token(id), this.deps.keys.tokens(), this.deps.keys.tokenNames(), id)) === 1;
    if (!token || !removed) throw new ControllerError('TOKEN_NOT_FOUND', `no API token with id ${id} (it may have been revoked already)`);
    return token;
  }

  /**
   * The principal a presented bearer value stands for, or null when it is
   * not a live token of this store. One Redis read per call; Redis failures
   * reject (the API answers 503, never "unauthorized").
   */
  async authenticate(bearer: string): Promise<Principal | null> {
    const parsed = parseToken(bearer);
    if (!parsed) return null;
    const found = await this.read(parsed.id);
    if (!found || !secretMatches(parsed.secret, found.stored.digest)) return null;
    const nowMs = this.deps.now();
    const last = found.lastUsedAt === null ? Number.NaN : Date.parse(found.lastUsedAt);
    if (!(nowMs - last < TOUCH_EVERY_MS)) {
      this.deps.redis
        .eval(TOUCH, 1, this.deps.keys.token(parsed.id), new Date(nowMs).toISOString())
        .catch((err: unknown) => this.deps.logger.warn({ tokenId: parsed.id, err: errorMessage(err) }, 'token lastUsedAt not updated'));
    }
    return { tokenId: found.stored.id, name: found.stored.name, role: found.stored.role };
  }

  private async read(id: string): Promise<{ stored: StoredToken; lastUsedAt: string | null } | null> {
    if (!TOKEN_ID_PATTERN.test(id)) return null;
    const [record, lastUsedAt] = await this.deps.redis.hmget(this.deps.keys.token(id), 'record', 'lastUsedAt');
    if (record === null || record === undefined) return null;
    return { stored: StoredToken.parse(JSON.parse(record)), lastUsedAt: lastUsedAt ?? null };
  }
}

function publicView(stored: StoredToken, lastUsedAt: string | null): ApiToken {
  const { id, name, role, createdAt, createdBy } = stored;
  return ApiToken.parse({ id, name, role, createdAt, createdBy, lastUsedAt });
}
