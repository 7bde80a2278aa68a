import { canonicalJson, sha256Hex } from '../../shared/canonical-json.js';
import type { WorkloadSpec } from '../../shared/schemas/workload.js';

/**
 * Hash of the parsed (defaults applied) workload spec. It goes on the
 * container as a label; a different hash means the container must be
 * replaced, an equal hash means it is left alone — so an agent restart never
 * restarts an unchanged container.
 */
export function specHash(spec: WorkloadSpec): string {
  return sha256Hex(canonicalJson(spec));
}
