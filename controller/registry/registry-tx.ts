import type { Redis } from 'ioredis';
import { backoffDelayMs, type BackoffPolicy } from '../../shared/backoff.js';
import type { Keys } from './keys.js';

/**
 * One registry change as one Lua script (DD-021): compare, write, bump the
 * registry generation and mark the affected scopes dirty, all or nothing.
 *
 * No WATCH/MULTI anywhere: WATCH is per connection, so two stores sharing an
 * ioredis connection clear each other's WATCH and a MULTI aborts unnoticed
 * (pitfalls.md). A script runs alone on the server whatever the connection,
 * so optimistic read-modify-write is "read, compute, commit with the value
 * read as the expectation", retried on conflict.
 *
 * KEYS[1] generation, KEYS[2] dirty set, KEYS[3..] the keys the ops name by index.
 * ARGV[1] JSON { c: [[keyIndex, expected | null]], w: [[op, keyIndex, a, b]], d: [scope] }.
 * Returns { 1, generation } or { 0, keyIndex of the first failed check }.
 */
const SCRIPT = `
local spec = cjson.decode(ARGV[1])
for _, c in ipairs(spec.c) do
  local cur = redis.call('GET', KEYS[c[1]])
  if c[2] == cjson.null then
    if cur then return { 0, c[1] } end
  elseif cur ~= c[2] then
    return { 0, c[1] }
  end
end
local gen = redis.call('INCR', KEYS[1])
for _, w in ipairs(spec.w) do
  local op, key = w[1], KEYS[w[2]]
  if op == 'set' then redis.call('SET', key, w[3])
  elseif op == 'setpx' then redis.call('SET', key, w[3], 'PX', w[4])
  elseif op == 'del' then redis.call('DEL', key)
  elseif op == 'sadd' then redis.call('SADD', key, w[3])
  elseif op == 'srem' then redis.call('SREM', key, w[3])
  elseif op == 'hdel' then redis.call('HDEL', key, w[3])
  elseif op == 'zrem' then redis.call('ZREM', key, w[3])
  elseif op == 'max' then
    if tonumber(redis.call('GET', key) or '0') < tonumber(w[3]) then redis.call('SET', key, w[3]) end
  else return redis.error_reply('registry-tx: unknown op ' .. tostring(op)) end
end
for _, s in ipairs(spec.d) do redis.call('ZADD', KEYS[2], gen, s) end
return { 1, gen }`;

export type TxResult = { ok: true; generation: number } | { ok: false; conflict: string };

type Write = [op: 'set' | 'del' | 'sadd' | 'srem' | 'hdel' | 'zrem' | 'max', key: string, arg?: string] | [op: 'setpx', key: string, value: string, ms: number];

/** Builder for one atomic registry change. Nothing happens until commit(). */
export class RegistryTx {
  private readonly checks: [key: string, expected: string | null][] = [];
  private readonly writes: Write[] = [];
  private readonly scopes = new Set<string>();

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  /** The change applies only if `key` holds exactly `raw` (null: absent). */
  expect(key: string, raw: string | null): this {
    this.checks.push([key, raw]);
    return this;
  }

  set(key: string, value: string, opts: { pxMs?: number } = {}): this {
    this.writes.push(opts.pxMs !== undefined ? ['setpx', key, value, opts.pxMs] : ['set', key, value]);
    return this;
  }

  del(key: string): this {
    this.writes.push(['del', key]);
    return this;
  }

  sadd(key: string, member: string): this {
    this.writes.push(['sadd', key, member]);
    return this;
  }

  srem(key: string, member: string): this {
    this.writes.push(['srem', key, member]);
    return this;
  }

  zrem(key: string, member: string): this {
    this.writes.push(['zrem', key, member]);
    return this;
  }

  hdel(key: string, field: string): this {
    this.writes.push(['hdel', key, field]);
    return this;
  }

  /** Raises the integer at `key` to at least `value`; never lowers it (a plain GET-then-SET could). */
  max(key: string, value: number): this {
    this.writes.push(['max', key, String(value)]);
    return this;
  }

  /** Marks desired documents in `scope` as possibly out of date (see Keys.dirty). */
  dirty(scope: string): this {
    this.scopes.add(scope);
    return this;
  }

  dirtyDevices(ids: Iterable<string>): this {
    for (const id of ids) this.scopes.add(deviceScope(id));
    return this;
  }

  async commit(): Promise<TxResult> {
    const index = new Map<string, number>();
    const keyList = [this.keys.generation(), this.keys.dirty()];
    const ref = (key: string): number => {
      let i = index.get(key);
      if (i === undefined) {
        keyList.push(key);
        i = keyList.length;
        index.set(key, i);
      }
      return i;
    };
    const spec = {
      c: this.checks.map(([key, expected]) => [ref(key), expected]),
      w: this.writes.map((w) => (w[0] === 'setpx' ? [w[0], ref(w[1]), w[2], w[3]] : [w[0], ref(w[1]), ...(w[2] !== undefined ? [w[2]] : [])])),
      d: [...this.scopes],
    };
    // cjson encodes an empty table as an object; the script only iterates, so {} and [] behave alike.
    const [ok, value] = (await this.redis.eval(SCRIPT, keyList.length, ...keyList, JSON.stringify(spec))) as [number, number];
    if (ok === 1) return { ok: true, generation: value };
    return { ok: false, conflict: keyList[value - 1] ?? '?' };
  }
}

export const ALL_SCOPE = '*';

export function deviceScope(id: string): string {
  return `d:${id}`;
}

export function selectorScope(selector: string): string {
  return `s:${selector}`;
}

/**
 * Optimistic read-modify-write: `attempt` reads what it needs and returns
 * the change to commit (or null for "nothing to do") with its result; a
 * conflict runs it again on fresh reads, after a short jittered pause so
 * many writers of one record do not keep colliding in lock-step.
 */
export async function optimistic<R>(
  what: string,
  attempt: () => Promise<{ tx: RegistryTx | null; result: R }>,
  attempts = 100,
): Promise<R> {
  for (let i = 0; i < attempts; i++) {
    const { tx, result } = await attempt();
    if (tx === null) return result;
    if ((await tx.commit()).ok) return result;
    await new Promise((r) => setTimeout(r, backoffDelayMs(i, CONFLICT_BACKOFF)));
  }
  throw new Error(`too much contention updating ${what}`);
}

const CONFLICT_BACKOFF: BackoffPolicy = { baseMs: 2, capMs: 100, factor: 2 };
