import type { Redis } from 'ioredis';
import type { Logger } from '../../shared/logger.js';
import { DesiredState } from '../../shared/schemas/desired-state.js';
import type { DesiredPublisher } from '../desired-state/desired-publisher.js';
import { releaseRef } from '../model/names.js';
import type { DeploymentStore } from '../registry/deployment-store.js';
import type { Keys } from '../registry/keys.js';
import type { NotifyAction } from './actions.js';
import type { Deployment } from '../model/deployment.js';
import { matches, parseSelector } from '../desired-state/selector.js';
import type { DeviceRolloutState, RolloutState, TargetDevice } from './model.js';
import { rollbackTargets } from './operations.js';
import { rolloutDeploymentId } from './rollout-view.js';

export interface RolloutEffectsDeps {
  redis: Redis;
  keys: Keys;
  /** A store on a connection no other code runs transactions on (see DeploymentStore.addDevices). */
  deployments: DeploymentStore;
  publisher: Pick<DesiredPublisher, 'recompute' | 'settle'>;
  logger: Logger;
  /** Devices per add + recompute round; one wave of 10,000 is 20 rounds inside one tick. */
  batchSize?: number;
}

export interface ExecutedNotify {
  /** The notify with `versions` filled in: the desired version each device now has. */
  action: NotifyAction;
  /** Devices the release cannot reach (pinned elsewhere, shadowed, gone): failed at once, with why. */
  failed: DeviceRolloutState[];
}

/**
 * The side effects of rollout actions, each idempotent so a step re-planned
 * after a crash repeats them harmlessly:
 *   notify   = add the devices to the rollout's deployment (a set add, which
 *              marks them dirty atomically), then drain. The publisher assigns a version only to a
 *              device whose document changed, so repeating a notify never
 *              gives a device a second version for the same step. The version
 *              recorded is the device's current desired version afterwards.
 *   rollback = remove the rollout's deployment, recompute every device it
 *              held: each goes back to its previous release as a new, higher
 *              version.
 *   fold     = a finished rollout's deployment drops from the rollout priority
 *              to the one it replaced (foldedPriority, DD-044), so a later
 *              plain deploy is not shadowed by it.
 */
export class RolloutEffects {
  private readonly batchSize: number;

  constructor(private readonly deps: RolloutEffectsDeps) {
    this.batchSize = deps.batchSize ?? 500;
  }

  async notify(state: RolloutState, action: NotifyAction): Promise<ExecutedNotify> {
    const { spec } = state;
    const deploymentId = rolloutDeploymentId(state.id);
    const ref = releaseRef(spec.app, spec.toVersion);
    const versions: Record<string, number> = {};
    const failed: DeviceRolloutState[] = [];
    for (let i = 0; i < action.deviceIds.length; i += this.batchSize) {
      const batch = action.deviceIds.slice(i, i + this.batchSize);
      // The add marks the devices dirty in the same atomic step (DD-021); the drain publishes them.
      await this.deps.deployments.addDevices(deploymentId, { app: spec.app, version: spec.toVersion, priority: spec.priority }, batch);
      await this.deps.publisher.settle(batch);
      const records = await this.readDesired(batch);
      for (const id of batch) {
        const device = state.devices[id];
        if (!device) continue;
        const doc = records.get(id);
        const problem = doc ? unreachable(doc, spec.app, ref, deploymentId) : 'no desired state exists for the device (was it removed?)';
        if (problem === null && doc) versions[id] = doc.version;
        else failed.push({ ...device, status: 'failed', reason: problem ?? 'unknown' });
      }
    }
    this.deps.logger.info({ rolloutId: state.id, wave: action.wave, devices: action.deviceIds.length, failed: failed.length }, 'rollout notified devices');
    return { action: { ...action, versions }, failed };
  }

  /** Moves every device the rollout moved back to its previous release. Returns how many were recomputed. */
  async rollback(state: RolloutState): Promise<number> {
    const removed = await this.deps.deployments.removeDevices(rolloutDeploymentId(state.id), 'all');
    const ids = [...new Set([...rollbackTargets(state), ...removed])];
    let published = 0;
    for (let i = 0; i < ids.length; i += this.batchSize) {
      published += (await this.deps.publisher.recompute(ids.slice(i, i + this.batchSize))).published.length;
    }
    this.deps.logger.info({ rolloutId: state.id, devices: ids.length, published }, 'rollout rolled back');
    return ids.length;
  }

  /**
   * DD-044: run on every tick of a succeeded or aborted rollout; a no-op once
   * folded. `labelsOf` gives the labels of the deployment's devices, to find
   * the deployments of the app that compete with it on them.
   */
  async fold(state: RolloutState, labelsOf: (ids: readonly string[]) => Promise<TargetDevice[]>): Promise<void> {
    const id = rolloutDeploymentId(state.id);
    const mine = await this.deps.deployments.get(id);
    if (!mine || mine.target.kind !== 'devices') return;
    const devices = await labelsOf(mine.target.devices);
    const mineSet = new Set(mine.target.devices);
    const competes = ({ target }: Deployment): boolean => {
      if (target.kind === 'devices') return target.devices.some((x) => mineSet.has(x));
      const selector = parseSelector(target.selector);
      return devices.some((x) => matches(selector, x.labels));
    };
    const others = (await this.deps.deployments.all()).filter((d) => d.id !== id && d.app === mine.app && competes(d)).map((d) => d.priority);
    const priority = foldedPriority(mine.priority, others);
    if (priority === mine.priority) return;
    if (!(await this.deps.deployments.setPriority(id, mine.priority, priority))) return;
    const ids = mine.target.devices;
    for (let i = 0; i < ids.length; i += this.batchSize) await this.deps.publisher.settle(ids.slice(i, i + this.batchSize));
    this.deps.logger.info({ rolloutId: state.id, phase: state.phase, deploymentId: id, from: mine.priority, priority }, 'finished rollout folded into an ordinary deployment');
  }

  private async readDesired(ids: readonly string[]): Promise<Map<string, DesiredState>> {
    const pipeline = this.deps.redis.pipeline();
    for (const id of ids) pipeline.hget(this.deps.keys.desired(id), 'doc');
    const rows = (await pipeline.exec()) ?? [];
    const out = new Map<string, DesiredState>();
    rows.forEach(([err, raw], i) => {
      if (err) throw err;
      const id = ids[i];
      if (id && typeof raw === 'string') out.set(id, DesiredState.parse(JSON.parse(raw)));
    });
    return out;
  }
}

/** Why the device's document does not carry the rollout's release, or null when it does. */
function unreachable(doc: DesiredState, app: string, ref: string, deploymentId: string): string | null {
  const mine = Object.entries(doc.provenance).filter(([, p]) => p.release?.startsWith(`${app}@`) === true);
  if (mine.some(([, p]) => p.release === ref && p.deployment === deploymentId)) return null;
  const other = mine[0]?.[1];
  if (!other) return `the device's desired state has no ${app} workloads (does ${ref} exist?)`;
  if (other.deployment === deploymentId) return `the device is pinned to ${other.release ?? 'another release'} of ${app}`;
  return `${app} on this device comes from deployment ${other.deployment ?? '?'} (${other.release ?? '?'}), which wins over the rollout's priority`;
}

/**
 * The priority a finished rollout's deployment keeps (DD-044): the highest
 * priority among the app's other deployments at or below its own, at least 0
 * (the default of `outpost deploy`), never above its own. On its devices it
 * still wins over what it replaced (an equal priority goes to the newer
 * deployment, and the rollout's is newer than what it replaced), while a
 * later deploy at that priority, the default one included, wins over it.
 * At or below its own: applied again, the result is the same (idempotent).
 */
export function foldedPriority(own: number, others: readonly number[]): number {
  if (own <= 0) return own;
  return Math.max(0, ...others.filter((p) => p <= own));
}
