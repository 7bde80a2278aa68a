import type { DesiredState } from '../../shared/schemas/desired-state.js';

/**
 * Which pulled images to delete after an update committed (pure): keep the
 * images of the current and the previous version (a rollback must not need
 * the registry); delete the other images this agent pulled.
 */
export function imagesToRemove(pulled: readonly string[], current: DesiredState, previous: DesiredState | null): string[] {
  const keep = new Set<string>();
  for (const doc of [current, previous]) for (const spec of Object.values(doc?.workloads ?? {})) keep.add(spec.image);
  return [...new Set(pulled)].filter((ref) => !keep.has(ref)).sort();
}
