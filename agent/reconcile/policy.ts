import { resolve, sep } from 'node:path';
import type { DesiredState } from '../../shared/schemas/desired-state.js';

/**
 * What the device operator allows desired states to ask for. The Docker socket
 * is root on the device, so anyone who can steer the agent must not be able to
 * mount arbitrary host paths (pitfalls.md, Docker).
 */
export interface AgentPolicy {
  /** Host path prefixes bind mounts may use; empty = no bind mounts at all. */
  allowedHostPaths: readonly string[];
}

const NEVER_MOUNT = ['/var/run/docker.sock', '/run/docker.sock', '/var/run/docker', '/run/docker'];

/** null when allowed, else the reason. Pure. */
export function checkPolicy(doc: DesiredState, policy: AgentPolicy): string | null {
  const allowed = policy.allowedHostPaths.map((p) => withSep(resolve(p)));
  for (const [name, spec] of Object.entries(doc.workloads)) {
    for (const v of spec.volumes ?? []) {
      if (v.type !== 'bind') continue;
      const source = resolve(v.source);
      if (NEVER_MOUNT.some((n) => source === n || source.startsWith(withSep(n)) || n.startsWith(withSep(source)))) {
        return `workload ${name}: bind mount of ${v.source} would expose the container engine`;
      }
      if (!allowed.some((prefix) => withSep(source).startsWith(prefix))) {
        return `workload ${name}: bind mount source ${v.source} is outside the host paths this device allows (${
          policy.allowedHostPaths.length ? policy.allowedHostPaths.join(', ') : 'none configured'
        })`;
      }
    }
  }
  return null;
}

function withSep(p: string): string {
  return p.endsWith(sep) ? p : p + sep;
}
