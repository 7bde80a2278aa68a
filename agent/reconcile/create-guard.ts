import { OutpostError } from '../../shared/errors.js';
import type { DesiredState } from '../../shared/schemas/desired-state.js';
import type { WorkloadSpec } from '../../shared/schemas/workload.js';
import { admitDocument, admitOne, type AgentPolicy } from '../policy/admit-document.js';
import type { WorkloadGrant } from '../policy/admit-workload.js';
import type { ContainerRuntime } from '../runtime/runtime.js';

/**
 * The policy again, where it matters most (DD-024): the filesystem may have
 * changed since the document was accepted (a symlink swapped in later), so
 * every pass checks its document before it touches anything, and every
 * create checks its workload once more and mounts exactly what it checked.
 */
export interface CreateGuard {
  /**
   * Throws CONTAINER_CREATE_REFUSED when the document asks for something the
   * device refuses now. `creating` lists the workloads that will get a new
   * container (asked only when a named volume needs it).
   */
  checkDocument(doc: DesiredState, creating: () => Promise<ReadonlySet<string>>): Promise<void>;
  /** The container's grant, checked against the filesystem as it is at this moment; throws CONTAINER_CREATE_REFUSED. */
  grant(doc: DesiredState, workload: string, spec: WorkloadSpec): WorkloadGrant;
}

export function createGuard(policy: AgentPolicy, runtime: Pick<ContainerRuntime, 'volumeExists'>): CreateGuard {
  return {
    async checkDocument(doc, creating) {
      const admitted = admitDocument(doc, policy);
      if (!admitted.ok) {
        throw new OutpostError('CONTAINER_CREATE_REFUSED', `version ${doc.version} is refused by the device policy now (checked again before any change): ${admitted.reason}`);
      }
      let created: ReadonlySet<string> | null = null;
      for (const [workload, grant] of admitted.grants) {
        for (const m of grant.mounts) {
          if (m.type !== 'volume' || m.namespace === null) continue;
          created ??= await creating();
          if (!created.has(workload)) continue;
          // An agent before DD-024 used the requested name as is: starting on a fresh, empty
          // namespaced volume would silently leave the data behind (docs/operations.md, migration).
          if (!(await runtime.volumeExists(m.name)) && (await runtime.volumeExists(m.requested))) {
            throw new OutpostError(
              'CONTAINER_CREATE_REFUSED',
              `workload ${workload}: named volume ${m.requested} exists from before volume namespacing; this agent would mount ${m.name}. ` +
                `Copy the data into ${m.name}, or keep the old name with --allow-volume ${m.requested}`,
            );
          }
        }
      }
    },
    grant(doc, workload, spec) {
      const admitted = admitOne(doc, workload, spec, policy);
      if (!admitted.ok) {
        throw new OutpostError('CONTAINER_CREATE_REFUSED', `create refused by the device policy: ${admitted.reasons.join('; ')}`);
      }
      return admitted.grant;
    },
  };
}
