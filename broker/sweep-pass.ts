import type { Redis } from 'ioredis';
import { credentialKey } from '../shared/device-credentials.js';
import { isDeviceId, type DeviceId } from '../shared/device-id.js';

export interface CredentialLookup {
  /** The connection credentials are read on. */
  credentialsRedis: Pick<Redis, 'pipeline'>;
  keyPrefix: string;
  /** Whether a client with this id is connected to this broker now. */
  isConnected(clientId: string): boolean;
}

/** The device ids among `ids` that are not connected here and have no credential, in one round trip. */
export async function idsWithoutCredential(ids: readonly string[], deps: CredentialLookup): Promise<DeviceId[]> {
  const { credentialsRedis, keyPrefix, isConnected } = deps;
  const candidates = ids.filter((id): id is DeviceId => isDeviceId(id) && !isConnected(id));
  if (candidates.length === 0) return [];
  const results = await credentialsRedis.pipeline(candidates.map((id) => ['exists', credentialKey(keyPrefix, id)])).exec();
  if (!results) throw new Error('credential lookup returned nothing');
  return candidates.filter((_, i) => {
    const [err, exists] = results[i] ?? [new Error('missing reply'), 1];
    // A failed lookup fails the pass: nothing is removed on doubt.
    if (err) throw err;
    return exists === 0;
  });
}
