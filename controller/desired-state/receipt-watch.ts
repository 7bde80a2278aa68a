import type { Redis } from 'ioredis';
import { PeriodicPass } from '../../shared/periodic-pass.js';
import type { Logger } from '../../shared/logger.js';
import type { IntentDrain } from './intent-drain.js';
import type { Keys } from '../registry/keys.js';
import { markUnpublished } from '../signing/expiry-refresher.js';
import { planReceipt, MAX_RESENDS, type ReceiptFacts, type ReceiptVerdict } from './receipt-plan.js';

export interface ReceiptWatchDeps {
  redis: Redis;
  keys: Keys;
  drain: Pick<IntentDrain, 'request'>;
  logger: Logger;
  now: () => number;
  /** How long after the broker's acknowledgement a device online through it must show the document. */
  graceMs: number;
  /** How often due devices are checked. */
  checkEveryMs: number;
}

export interface ReceiptCheck {
  /** Devices whose document goes out again. */
  resent: string[];
  /** Devices re-sent MAX_RESENDS times that still show nothing: left alone, logged. */
  gaveUp: string[];
  /** Devices checked, whatever the verdict. */
  checked: number;
}

/** Removes checked entries whose score is still the one read: one acknowledged again meanwhile stays. KEYS: receipts. ARGV: id, score, … */
const REMOVE_CHECKED = `
local n = 0
for i = 1, #ARGV, 2 do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) == ARGV[i + 1] then n = n + redis.call('ZREM', KEYS[1], ARGV[i]) end
end
return n`;

/** Devices checked per round; the rest follow at the next. */
const BATCH = 1000;
/** Newest events read when a device's report does not show the document. */
const EVENTS_READ = 20;
/** A debug line of a check names each device's verdict up to this many devices. */
const DEBUG_DEVICES = 50;

/**
 * DD-062, the controller's delivery check: every document the broker
 * acknowledged is looked at again a grace period later. A device that was
 * online through the publish and shows nothing of it (no report, no event
 * naming that version or a newer one) gets it again: the stored document
 * is marked unpublished and the drain sends it, same version and content,
 * which an agent that has it ignores. Offline devices and connections made
 * after the publish are left to the retained copy.
 */
export class ReceiptWatch {
  private readonly passes: PeriodicPass<ReceiptCheck>;

  constructor(private readonly deps: ReceiptWatchDeps) {
    this.passes = new PeriodicPass(() => this.checkDue(), {
      intervalMs: deps.checkEveryMs,
      logger: deps.logger,
      failure: 'delivery check failed; retried at the next one',
    });
  }

  /** The broker acknowledged these documents now: each is checked a grace period later. */
  async acknowledged(deviceIds: readonly string[]): Promise<void> {
    if (deviceIds.length === 0) return;
    const at = String(this.deps.now());
    const args: string[] = [];
    for (const id of deviceIds) args.push(at, id);
    await this.deps.redis.zadd(this.deps.keys.receipts(), ...args);
  }

  /** A check now (entries left by an earlier run), then every checkEveryMs. */
  start(): void {
    this.passes.start();
  }

  /** Stops the checks and waits for a running one. */
  close(): Promise<void> {
    return this.passes.close();
  }

  /** Checks the devices whose grace period is over. */
  async checkDue(): Promise<ReceiptCheck> {
    const { deps } = this;
    const key = deps.keys.receipts();
    const due = await deps.redis.zrangebyscore(key, '-inf', String(deps.now() - deps.graceMs), 'WITHSCORES', 'LIMIT', 0, BATCH);
    const entries: { id: string; ackedAtMs: number; score: string }[] = [];
    for (let i = 0; i + 1 < due.length; i += 2) entries.push({ id: due[i] as string, ackedAtMs: Number(due[i + 1]), score: due[i + 1] as string });
    const result: ReceiptCheck = { resent: [], gaveUp: [], checked: entries.length };
    if (entries.length === 0) return result;

    const facts = await this.facts(entries);
    const verdicts = new Map<string, ReceiptVerdict>();
    const unsure = entries.filter((e) => {
      const verdict = planReceipt(facts.get(e.id) as ReceiptFacts);
      verdicts.set(e.id, verdict);
      return verdict === 'resend' || verdict === 'gave-up';
    });
    // Only those the report does not settle: a device busy with a long update reports late, but its events say it got the document.
    const shown = await this.eventVersions(unsure.map((e) => e.id));
    for (const e of unsure) {
      const f = facts.get(e.id) as ReceiptFacts;
      const fromEvents = shown.get(e.id) ?? null;
      const shownVersion = fromEvents === null ? f.shownVersion : Math.max(fromEvents, f.shownVersion ?? 0);
      verdicts.set(e.id, planReceipt({ ...f, shownVersion }));
    }

    for (const e of entries) {
      const verdict = verdicts.get(e.id);
      if (verdict === 'resend') result.resent.push(e.id);
      else if (verdict === 'gave-up') result.gaveUp.push(e.id);
    }
    if (deps.logger.isLevelEnabled('debug')) {
      const counts: Partial<Record<ReceiptVerdict, number>> = {};
      for (const v of verdicts.values()) counts[v] = (counts[v] ?? 0) + 1;
      // Each device's verdict only for a small check: a whole fleet's would make one huge line.
      const devices = entries.length <= DEBUG_DEVICES ? Object.fromEntries(verdicts) : undefined;
      deps.logger.debug({ checked: entries.length, verdicts: counts, ...(devices ? { devices } : {}) }, 'delivery check');
    }
    // Marked before the entries leave the set: a crash in between leaves an entry the next check drops as unpublished.
    if (result.resent.length > 0) {
      const pipeline = deps.redis.pipeline();
      for (const id of result.resent) {
        const f = facts.get(id) as ReceiptFacts;
        pipeline.hset(deps.keys.desired(id), 'resentVersion', String(f.version), 'resends', String(f.resends + 1));
      }
      await pipeline.exec();
      await markUnpublished(deps.redis, deps.keys, result.resent);
    }
    // Every entry checked leaves the set; a re-sent one comes back when the broker acknowledges it again.
    await deps.redis.eval(REMOVE_CHECKED, 1, key, ...entries.flatMap((e) => [e.id, e.score]));
    for (const id of result.gaveUp) {
      const f = facts.get(id) as ReceiptFacts;
      deps.logger.warn(
        { deviceId: id, version: f.version, resends: f.resends },
        `device online but shows no sign of its desired document after ${MAX_RESENDS} re-sends; left to its next connection`,
      );
    }
    if (result.resent.length > 0) {
      deps.logger.info({ devices: result.resent.length, sample: result.resent.slice(0, 10) }, 'desired documents re-sent: online devices did not show them');
      await deps.drain.request();
    }
    return result;
  }

  private async facts(entries: readonly { id: string; ackedAtMs: number }[]): Promise<Map<string, ReceiptFacts>> {
    const { redis, keys } = this.deps;
    const pipeline = redis.pipeline();
    for (const e of entries) {
      pipeline.hmget(keys.desired(e.id), 'version', 'published', 'resentVersion', 'resends');
      pipeline.hmget(keys.status(e.id), 'seenVersion', 'reported', 'online', 'onlineSinceMs');
    }
    const rows = (await pipeline.exec()) ?? [];
    const out = new Map<string, ReceiptFacts>();
    entries.forEach((e, i) => {
      const [dErr, dVal] = rows[2 * i] ?? [null, null];
      const [sErr, sVal] = rows[2 * i + 1] ?? [null, null];
      if (dErr) throw dErr;
      if (sErr) throw sErr;
      const [version, published, resentVersion, resends] = (dVal ?? []) as (string | null)[];
      const [seen, reported, online, onlineSince] = (sVal ?? []) as (string | null)[];
      const v = version ? Number(version) : null;
      const rejected = rejectedVersion(reported ?? null);
      const shown = Math.max(seen ? Number(seen) : 0, rejected ?? 0);
      out.set(e.id, {
        version: v,
        published: published ? Number(published) : null,
        ackedAtMs: e.ackedAtMs,
        shownVersion: shown > 0 ? shown : null,
        online: online === '1',
        onlineSinceMs: onlineSince ? Number(onlineSince) : null,
        resends: v !== null && resentVersion === String(v) ? Number(resends ?? 0) : 0,
      });
    });
    return out;
  }

  /** The highest version any of each device's newest events names (received, ignored, rejected, applying…). */
  private async eventVersions(ids: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (ids.length === 0) return out;
    const pipeline = this.deps.redis.pipeline();
    for (const id of ids) pipeline.lrange(this.deps.keys.events(id), 0, EVENTS_READ - 1);
    const rows = (await pipeline.exec()) ?? [];
    ids.forEach((id, i) => {
      const [err, value] = rows[i] ?? [null, null];
      if (err) return;
      let best = 0;
      for (const raw of (value ?? []) as string[]) best = Math.max(best, versionOf(raw));
      if (best > 0) out.set(id, best);
    });
    return out;
  }
}

/** `version` of a stored event (validated when it was stored); 0 when it names none. */
function versionOf(raw: string): number {
  try {
    const v: unknown = (JSON.parse(raw) as { version?: unknown }).version;
    return typeof v === 'number' ? v : 0;
  } catch {
    return 0;
  }
}

/** The version of the refused document a stored report names, if any: refused is received. */
function rejectedVersion(reported: string | null): number | null {
  if (reported === null) return null;
  try {
    const v: unknown = (JSON.parse(reported) as { rejected?: { version?: unknown } | null }).rejected?.version;
    return typeof v === 'number' ? v : null;
  } catch {
    return null;
  }
}
