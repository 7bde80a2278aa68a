import type { Provenance } from '../../shared/schemas/desired-state.js';
import type { WorkloadSpec } from '../../shared/schemas/workload.js';
import { checkBindSource, type HostView } from './bind-sources.js';
import { grantCapabilities } from './capabilities.js';
import type { DevicePolicy } from './device-policy.js';
import type { HostFs } from './host-fs.js';
import { checkVolumeName, volumeNamespace } from './volume-names.js';

/** A mount as the container gets it: bind sources resolved, named volumes mapped to their Docker names. */
export type GrantedMount =
  | { type: 'bind'; source: string; target: string; readOnly: boolean }
  | { type: 'volume'; requested: string; name: string; namespace: string | null; target: string; readOnly: boolean }
  | { type: 'tmpfs'; target: string; sizeBytes?: number };

/** What the device lets one workload's container have; container-spec.ts turns it into Docker's create body. */
export interface WorkloadGrant {
  mounts: GrantedMount[];
  /** Added after CapDrop ALL. */
  capAdd: string[];
}

export type Admission = { ok: true; grant: WorkloadGrant } | { ok: false; reasons: string[] };

export interface AdmitInput {
  workload: string;
  spec: WorkloadSpec;
  provenance: Provenance | undefined;
  policy: DevicePolicy;
  /** The policy's paths as the host resolves them; asked for only when a workload binds a host path. */
  view: () => HostView;
  fs: HostFs;
}

/** One workload against the device policy, every problem listed. Pure but for the injected filesystem. */
export function admitWorkload(input: AdmitInput): Admission {
  const { workload, spec, policy } = input;
  const reasons: string[] = [];
  const mounts: GrantedMount[] = [];
  const namespace = volumeNamespace(workload, input.provenance);
  for (const v of spec.volumes ?? []) {
    switch (v.type) {
      case 'bind': {
        const bind = checkBindSource(v.source, policy, input.view(), input.fs);
        if (bind.ok) mounts.push({ type: 'bind', source: bind.source, target: v.target, readOnly: v.readOnly });
        else reasons.push(bind.reason);
        break;
      }
      case 'volume': {
        const volume = checkVolumeName(v.name, namespace, policy);
        if (volume.ok) {
          mounts.push({ type: 'volume', requested: v.name, name: volume.dockerName, namespace: volume.namespace, target: v.target, readOnly: v.readOnly });
        } else {
          reasons.push(volume.reason);
        }
        break;
      }
      case 'tmpfs':
        mounts.push({ type: 'tmpfs', target: v.target, ...(v.sizeBytes ? { sizeBytes: v.sizeBytes } : {}) });
        break;
    }
  }
  const caps = grantCapabilities(spec.capabilities, policy);
  if (!caps.ok) reasons.push(caps.reason);
  if (reasons.length > 0 || !caps.ok) return { ok: false, reasons: reasons.map((r) => `workload ${workload}: ${r}`) };
  return { ok: true, grant: { mounts, capAdd: caps.capAdd } };
}
