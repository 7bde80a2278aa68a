import type { Device } from '../model/device.js';
import type { Release } from '../model/release.js';
import { composeDesired, targets, type ComposedDesired, type PreparedDeployment } from './compose-desired.js';

/**
 * Composition is a pure function of the deployments that target a device,
 * the releases, and the device's overrides — not of its id. A fleet deploy
 * composes thousands of devices out of a handful of distinct inputs, so one
 * drain composes (and hashes) each distinct input once (DD-033). Results are
 * shared between devices: callers must not mutate them.
 */
export class CompositionCache {
  private readonly byInput = new Map<string, ComposedDesired>();

  constructor(
    readonly deployments: readonly PreparedDeployment[],
    readonly releases: ReadonlyMap<string, Release>,
  ) {}

  compose(device: Device): ComposedDesired {
    const key = inputKey(device, this.deployments);
    const hit = this.byInput.get(key);
    if (hit) return hit;
    const composed = composeDesired(device, this.deployments, this.releases);
    this.byInput.set(key, composed);
    return composed;
  }

  /** Distinct inputs composed so far (tests, logs). */
  get size(): number {
    return this.byInput.size;
  }
}

/** Which deployments target the device, plus its overrides when it has any: everything composeDesired reads. */
function inputKey(device: Device, deployments: readonly PreparedDeployment[]): string {
  let key = '';
  deployments.forEach((p, i) => {
    if (targets(p, device)) key += `${i},`;
  });
  const { pins, env, workloadEnv } = device.overrides;
  const plain = isEmpty(pins) && isEmpty(env) && isEmpty(workloadEnv);
  // JSON.stringify, not a canonical form: equal strings are equal overrides; a different key order only misses.
  return plain ? key : `${key}|${JSON.stringify(device.overrides)}`;
}

function isEmpty(o: Readonly<Record<string, unknown>>): boolean {
  for (const _ in o) return false;
  return true;
}
