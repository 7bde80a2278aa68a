import type { DesiredPublisher } from '../desired-state/desired-publisher.js';
import type { RegistryCredentialStore, RegistryCredentialView } from '../registry-auth/registry-credential-store.js';
import { deliveryOf, type Delivery } from './delivery.js';

export interface RegistryCredentialOperationsDeps {
  store: Pick<RegistryCredentialStore, 'put' | 'remove' | 'list'>;
  publisher: Pick<DesiredPublisher, 'settle'>;
}

/**
 * `registry-login` / `registry-logout` (DD-041). A change is stored with
 * every device marked dirty; the answer waits for the drain, so it says how
 * many documents went out: only devices whose images come from the host get
 * a new version, without a redeploy.
 */
export class RegistryCredentialOperations {
  constructor(private readonly deps: RegistryCredentialOperationsDeps) {}

  async put(input: { host: string; username: string; password: string }): Promise<{ credential: RegistryCredentialView; created: boolean; delivery: Delivery }> {
    const stored = await this.deps.store.put(input);
    return { ...stored, delivery: deliveryOf(await this.deps.publisher.settle()) };
  }

  async remove(host: string): Promise<{ credential: RegistryCredentialView; delivery: Delivery }> {
    const credential = await this.deps.store.remove(host);
    return { credential, delivery: deliveryOf(await this.deps.publisher.settle()) };
  }

  list(): Promise<RegistryCredentialView[]> {
    return this.deps.store.list();
  }
}
