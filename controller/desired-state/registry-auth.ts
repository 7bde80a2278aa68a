import { canonicalJson, sha256Hex } from '../../shared/canonical-json.js';
import { parseImageRef, registryOf } from '../../shared/image-ref.js';
import type { WorkloadSpec } from '../../shared/schemas/workload.js';
import type { RegistryAuthSnapshot } from '../registry-auth/registry-credential-store.js';

/** registryAuth as it is stored with a composed document: passwords still sealed (revealed only on publish). */
export type SealedRegistryAuth = Record<string, { username: string; password: string }>;

export interface RegistryAuthPlan {
  /** Entries for exactly the hosts the workloads pull from and that have usable credentials; absent when none. */
  registryAuth: SealedRegistryAuth | undefined;
  /** The composition's hash, extended by the entries when there are any (a rotation is a new version). */
  contentHash: string;
  /** Hosts the workloads need whose stored credentials cannot be used, with why. */
  problems: string[];
}

/**
 * The registries a device's workloads pull from, and the credentials to
 * send with its document (DD-041). Pure. A host is the one the agent will
 * look up (shared/image-ref.ts registryOf): images without a registry part
 * come from Docker Hub, `docker.io`, which gets an entry only when
 * credentials are stored under that name. A document with no entry keeps the
 * composition's own hash, so documents without private images never change
 * because credentials exist.
 */
export function planRegistryAuth(workloads: Readonly<Record<string, WorkloadSpec>>, contentHash: string, store: RegistryAuthSnapshot): RegistryAuthPlan {
  const hosts = new Set<string>();
  for (const spec of Object.values(workloads)) {
    const ref = parseImageRef(spec.image);
    if (ref) hosts.add(registryOf(ref));
  }
  const registryAuth: SealedRegistryAuth = {};
  const problems: string[] = [];
  for (const host of [...hosts].sort()) {
    const usable = store.usable.get(host);
    if (usable) registryAuth[host] = { username: usable.username, password: usable.sealed };
    const why = store.unusable.get(host);
    if (why !== undefined) problems.push(`registry credentials of ${host} left out: ${why}`);
  }
  if (Object.keys(registryAuth).length === 0) return { registryAuth: undefined, contentHash, problems };
  // The sealed value changes with every registry-login: a rotation changes the hash, nothing else does.
  return { registryAuth, contentHash: sha256Hex(canonicalJson({ composition: contentHash, registryAuth })), problems };
}
