import { NO_FAILPOINTS, type Failpoints } from '../../shared/failpoints.js';
import type { DesiredPublisher, RecomputeResult } from '../desired-state/desired-publisher.js';
import { prepareDeployments, targets } from '../desired-state/compose-desired.js';
import { Deployment, DeploymentInput } from '../model/deployment.js';
import { ReleaseInput as ReleaseInputSchema, type Release, type ReleaseInput } from '../model/release.js';
import type { DeploymentStore } from '../registry/deployment-store.js';
import type { DeviceStore } from '../registry/device-store.js';
import type { ReleaseStore } from '../registry/release-store.js';
import { deliveryOf, type Delivery } from './delivery.js';
import { invalid, selectorOf } from './validation.js';

export interface DeploymentOperationsDeps {
  devices: DeviceStore;
  releases: ReleaseStore;
  deployments: DeploymentStore;
  publisher: Pick<DesiredPublisher, 'settle'>;
  failpoints?: Failpoints;
}

/**
 * Releases and deployments. A deployment is written with its dirty scope in
 * one atomic step (DD-021), then drained. Creating with a client-supplied id
 * and deleting are idempotent, so an operator (or the CLI) can retry after a
 * lost answer without a 409, a duplicate or a 404.
 */
export class DeploymentOperations {
  private readonly failpoints: Failpoints;

  constructor(private readonly deps: DeploymentOperationsDeps) {
    this.failpoints = deps.failpoints ?? NO_FAILPOINTS;
  }

  async createRelease(input: ReleaseInput): Promise<{ release: Release; created: boolean }> {
    const parsed = ReleaseInputSchema.safeParse(input);
    if (!parsed.success) throw invalid(parsed.error.issues);
    return this.deps.releases.create(parsed.data);
  }

  async create(input: DeploymentInput): Promise<{ deployment: Deployment; created: boolean; targeted: string[]; delivery: Delivery; result: RecomputeResult }> {
    const parsed = DeploymentInput.safeParse(input);
    if (!parsed.success) throw invalid(parsed.error.issues);
    if (parsed.data.target.kind === 'selector') selectorOf(parsed.data.target.selector);
    await this.deps.releases.require(parsed.data.app, parsed.data.version);
    const { deployment, created } = await this.deps.deployments.create(parsed.data);
    await this.failpoints.hit('deployment.create:after-write');
    const targeted = await this.targetedIds(deployment);
    const result = await this.deps.publisher.settle(targeted);
    return { deployment, created, targeted, delivery: deliveryOf(result), result };
  }

  async remove(id: string): Promise<{ deployment: Deployment; alreadyRemoved: boolean; delivery: Delivery }> {
    const { deployment, alreadyRemoved } = await this.deps.deployments.remove(id);
    await this.failpoints.hit('deployment.remove:after-write');
    const affected = await this.targetedIds(deployment);
    return { deployment, alreadyRemoved, delivery: deliveryOf(await this.deps.publisher.settle(affected)) };
  }

  /** Existing devices the deployment's target matches now. */
  async targetedIds(deployment: Deployment): Promise<string[]> {
    const prepared = prepareDeployments([deployment])[0];
    if (!prepared) return [];
    if (deployment.target.kind === 'devices') {
      const existing = new Set(await this.deps.devices.ids());
      return deployment.target.devices.filter((id) => existing.has(id));
    }
    return (await this.deps.devices.all()).filter((d) => targets(prepared, d)).map((d) => d.id);
  }
}
