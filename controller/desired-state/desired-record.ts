import type { Redis } from 'ioredis';
import { DesiredState } from '../../shared/schemas/desired-state.js';
import type { Keys } from '../registry/keys.js';
import { withoutRegistryPasswords } from '../registry-auth/reveal-secrets.js';

/** The last desired document published for a device, as stored next to its content hash; registry passwords redacted (DD-041). */
export interface DesiredRecord {
  doc: DesiredState;
  hash: string;
  version: number;
  publishedAt: string;
}

export async function readDesiredRecord(redis: Redis, keys: Keys, deviceId: string): Promise<DesiredRecord | null> {
  const [doc, hash, version, publishedAt] = await redis.hmget(keys.desired(deviceId), 'doc', 'hash', 'version', 'publishedAt');
  if (!doc || !hash || !version || !publishedAt) return null;
  return { doc: withoutRegistryPasswords(DesiredState.parse(JSON.parse(doc))), hash, version: Number(version), publishedAt };
}

/** version + hash of many devices' records, one pipeline. */
export async function readDesiredHeads(
  redis: Redis,
  keys: Keys,
  deviceIds: readonly string[],
): Promise<Map<string, { hash: string; version: number }>> {
  const pipeline = redis.pipeline();
  for (const id of deviceIds) pipeline.hmget(keys.desired(id), 'hash', 'version');
  const results = (await pipeline.exec()) ?? [];
  const out = new Map<string, { hash: string; version: number }>();
  results.forEach(([err, value], i) => {
    const id = deviceIds[i];
    if (err || !id) return;
    const [hash, version] = value as [string | null, string | null];
    if (hash && version) out.set(id, { hash, version: Number(version) });
  });
  return out;
}
