import type { Redis } from 'ioredis';
import { QlobberTrue } from 'qlobber';
import { QLOBBER_OPTIONS } from './subscription-index.js';

/** Retained entries read per HSCAN call when a wildcard filter needs a scan. */
const SCAN_COUNT = 500;

/**
 * The retained messages matching `patterns`. Exact topics (what devices
 * subscribe to) are one HMGET, whatever the number of retained messages;
 * wildcard filters (rare: the service's `devices/+/…`) scan the retained hash
 * once, narrowed by the filters' common literal prefix. A topic is yielded once.
 */
export async function* lookUpRetained(
  redis: Redis,
  key: string,
  patterns: readonly string[],
  /** Opens a stored value (DD-047); undefined skips it (unreadable, already reported). */
  open: (topic: string, stored: Buffer) => Record<string, unknown> | undefined,
): AsyncGenerator<Record<string, unknown>> {
  const exact = patterns.filter((p) => wildcardAt(p) === -1);
  const wildcards = patterns.filter((p) => wildcardAt(p) !== -1);
  const sent = new Set<string>();
  if (exact.length > 0) {
    const found = await redis.hmgetBuffer(key, ...exact);
    for (const [i, value] of found.entries()) {
      if (!value) continue;
      const topic = exact[i] ?? '';
      sent.add(topic);
      const packet = open(topic, value);
      if (packet) yield packet;
    }
  }
  if (wildcards.length === 0) return;

  const matcher = new QlobberTrue(QLOBBER_OPTIONS);
  for (const p of wildcards) matcher.add(p);
  const match = `${globEscape(commonPrefix(wildcards.map((p) => p.slice(0, Math.max(0, wildcardAt(p) - 1)))))}*`;
  let cursor = '0';
  do {
    const [next, entries] = await redis.hscanBuffer(key, cursor, 'MATCH', match, 'COUNT', SCAN_COUNT);
    cursor = next.toString();
    for (let i = 0; i + 1 < entries.length; i += 2) {
      const topic = entries[i]?.toString() ?? '';
      const value = entries[i + 1];
      if (value === undefined || sent.has(topic) || !matcher.test(topic)) continue;
      sent.add(topic);
      const packet = open(topic, value);
      if (packet) yield packet;
    }
  } while (cursor !== '0');
}

/** Index of the first `+` or `#`, or -1. */
function wildcardAt(pattern: string): number {
  const plus = pattern.indexOf('+');
  const hash = pattern.indexOf('#');
  if (plus === -1) return hash;
  return hash === -1 ? plus : Math.min(plus, hash);
}

function commonPrefix(values: readonly string[]): string {
  let prefix = values[0] ?? '';
  for (const v of values) {
    let i = 0;
    while (i < prefix.length && i < v.length && prefix[i] === v[i]) i++;
    prefix = prefix.slice(0, i);
  }
  return prefix;
}

/** Topics may hold glob characters; HSCAN MATCH must take them literally. */
function globEscape(value: string): string {
  return value.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
