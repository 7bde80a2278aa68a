import { canonicalJson, sha256Hex } from '../../shared/canonical-json.js';
import type { Provenance } from '../../shared/schemas/desired-state.js';
import type { WorkloadSpec } from '../../shared/schemas/workload.js';
import type { Deployment } from '../model/deployment.js';
import type { Device } from '../model/device.js';
import { deviceWorkloadName, releaseRef } from '../model/names.js';
import type { Release } from '../model/release.js';
import { composeApplyPolicy, hasApplyPolicy, type DocumentApplyPolicy } from './compose-apply-policy.js';
import { matches, parseSelector, type Selector } from './selector.js';

export interface AppResolution {
  app: string;
  /** The deployment that wins for this app on this device (highest priority, then newest). */
  deploymentId: string;
  version: string;
  /** `pin` when a per-device pin overrode the deployment's version. */
  source: 'deployment' | 'pin';
  /** Deployments that target the device for this app but lost to the winner. */
  shadowed: string[];
}

export interface ComposedDesired {
  workloads: Record<string, WorkloadSpec>;
  provenance: Record<string, Provenance>;
  apps: AppResolution[];
  /** Things an operator must fix (e.g. a pinned release that does not exist); the app is then left out. */
  problems: string[];
  /** When the device may apply the document, folded from the winning deployments (DD-040). */
  policy: DocumentApplyPolicy;
  /** Hash of workloads + provenance (+ policy when there is one): equal hash, equal document (version and time aside). */
  contentHash: string;
}

/** Deployments with their selectors parsed once, for composing many devices. */
export interface PreparedDeployment {
  deployment: Deployment;
  selector: Selector | null;
  devices: ReadonlySet<string> | null;
}

export function prepareDeployments(deployments: readonly Deployment[]): PreparedDeployment[] {
  return deployments.map((deployment) =>
    deployment.target.kind === 'selector'
      ? { deployment, selector: parseSelector(deployment.target.selector), devices: null }
      : { deployment, selector: null, devices: new Set(deployment.target.devices) },
  );
}

export function targets(p: PreparedDeployment, device: Pick<Device, 'id' | 'labels'>): boolean {
  return p.devices ? p.devices.has(device.id) : matches(p.selector ?? [], device.labels);
}

/** Highest priority first; ties: newest (highest seq) first. */
function byPrecedence(a: Deployment, b: Deployment): number {
  return b.priority - a.priority || b.seq - a.seq;
}

/**
 * The pure heart of the controller: one device's desired workloads from the
 * deployments that target it, the releases they name, and the device's own
 * overrides. Per app the highest-priority deployment wins (ties: newest); a
 * pin replaces its version; env merges release < device < device+workload.
 */
export function composeDesired(
  device: Device,
  deployments: readonly PreparedDeployment[],
  releases: ReadonlyMap<string, Release>,
): ComposedDesired {
  const byApp = new Map<string, Deployment[]>();
  for (const p of deployments) {
    if (!targets(p, device)) continue;
    const list = byApp.get(p.deployment.app) ?? [];
    list.push(p.deployment);
    byApp.set(p.deployment.app, list);
  }
  const workloads: Record<string, WorkloadSpec> = {};
  const provenance: Record<string, Provenance> = {};
  const apps: AppResolution[] = [];
  const problems: string[] = [];
  const winners: Deployment[] = [];
  for (const app of [...byApp.keys()].sort()) {
    const ranked = (byApp.get(app) ?? []).sort(byPrecedence);
    const winner = ranked[0];
    if (!winner) continue;
    const pinned = device.overrides.pins[app];
    const version = pinned ?? winner.version;
    const release = releases.get(releaseRef(app, version));
    if (!release) {
      problems.push(`${releaseRef(app, version)} (${pinned ? 'pinned on the device' : `deployment ${winner.id}`}) does not exist`);
      continue;
    }
    winners.push(winner);
    apps.push({ app, deploymentId: winner.id, version, source: pinned ? 'pin' : 'deployment', shadowed: ranked.slice(1).map((d) => d.id) });
    for (const [name, spec] of Object.entries(release.workloads)) {
      const key = deviceWorkloadName(app, name);
      const env = { ...(spec.env ?? {}), ...device.overrides.env, ...(device.overrides.workloadEnv[key] ?? {}) };
      workloads[key] = { ...spec, ...(Object.keys(env).length ? { env } : {}) };
      provenance[key] = { deployment: winner.id, release: releaseRef(app, version) };
    }
  }
  const policy = composeApplyPolicy(winners);
  const hashed = hasApplyPolicy(policy) ? { workloads, provenance, policy } : { workloads, provenance };
  return { workloads, provenance, apps, problems, policy, contentHash: sha256Hex(canonicalJson(hashed)) };
}
