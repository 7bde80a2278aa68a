import type { DesiredState } from '../../shared/schemas/desired-state.js';
import { admitDocument, type AgentPolicy } from '../policy/admit-document.js';

export type { AgentPolicy } from '../policy/admit-document.js';

/**
 * The inbox's question: may this document be accepted? null when allowed,
 * else every reason (DD-024). The Docker socket is root on the device, so
 * whoever can steer the agent must not reach the engine, the host or the
 * agent's own files through it (pitfalls.md, Docker).
 */
export function checkPolicy(doc: DesiredState, policy: AgentPolicy): string | null {
  const admitted = admitDocument(doc, policy);
  return admitted.ok ? null : admitted.reason;
}
