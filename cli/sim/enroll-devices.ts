import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { newSecret } from '../../shared/device-credentials.js';
import { ApiClientError, type ApiClient } from '../client/api-client.js';
import type { SimDeviceAssignment } from './sim-messages.js';

/** `<prefix>-000` … : fixed width, so ids sort in order and a rerun with the same prefix finds the same devices. */
export function simDeviceIds(prefix: string, count: number): string[] {
  const width = Math.max(3, String(count - 1).length);
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(width, '0')}`);
}

async function secretFor(dir: string): Promise<string> {
  const file = join(dir, 'secret');
  try {
    const kept = (await readFile(file, 'utf8')).trim();
    if (kept) return kept;
  } catch {
    // none kept yet
  }
  const secret = newSecret();
  await mkdir(dir, { recursive: true });
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** Runs `task` over `items` with at most `limit` in flight. */
export async function eachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await task(items[next++] as T);
    }),
  );
}

/**
 * Enrols the simulated devices through the API, like `outpost device add`
 * with a client secret kept in the device's state directory (a rerun on the
 * same --state-dir is the same request). A device enrolled by an earlier run
 * whose secret is gone gets a new secret and this run's labels.
 */
export async function enrollSimDevices(
  client: ApiClient,
  ids: readonly string[],
  labels: Record<string, string>,
  stateRoot: string,
): Promise<SimDeviceAssignment[]> {
  const out = new Map<string, SimDeviceAssignment>();
  await eachLimited(ids, 16, async (id) => {
    const secret = await secretFor(join(stateRoot, id));
    try {
      await client.addDevice({ id, labels, secret });
    } catch (err) {
      if (!(err instanceof ApiClientError) || err.code !== 'DEVICE_EXISTS') throw err;
      await client.rotateSecret(id, { secret });
      await client.updateLabels(id, { set: labels });
    }
    out.set(id, { id, secret });
  });
  return ids.map((id) => out.get(id) as SimDeviceAssignment);
}
