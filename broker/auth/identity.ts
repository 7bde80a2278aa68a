import type { DeviceId } from '../../shared/device-id.js';

/** Who an authenticated MQTT connection is. */
export type Identity =
  | {
      kind: 'device';
      deviceId: DeviceId;
      /** The credential record the session authenticated with; a rotation ends sessions on an older one (broker/credential-watch.ts). */
      credentialRecord?: string;
    }
  | { kind: 'service'; username: string };

/**
 * The part of an aedes client the authorization code reads. Tests pass plain
 * objects of this shape; aedes passes its `Client`.
 */
export interface ClientLike {
  readonly id: string;
}

/**
 * Identities keyed by the aedes client object. A WeakMap instead of fields
 * patched onto aedes's client: typed, invisible to aedes, and an entry dies
 * with its connection, so a taken-over session can never inherit one.
 */
export class IdentityRegistry {
  readonly #byClient = new WeakMap<ClientLike, Identity>();

  set(client: ClientLike, identity: Identity): void {
    this.#byClient.set(client, Object.freeze({ ...identity }));
  }

  get(client: ClientLike | null | undefined): Identity | undefined {
    return client ? this.#byClient.get(client) : undefined;
  }
}
