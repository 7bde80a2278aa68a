import { z } from 'zod';
import { WorkloadSpec } from '../../shared/schemas/workload.js';
import { LIMITS } from '../../shared/limits.js';
import { AppName, ReleaseVersion, ReleaseWorkloadName } from './names.js';

/** An immutable `app@version` with its workloads (validated by the shared workload schema). */
export const ReleaseInput = z.strictObject({
  app: AppName,
  version: ReleaseVersion,
  workloads: z
    .record(ReleaseWorkloadName, WorkloadSpec)
    .refine((w) => Object.keys(w).length >= 1, 'a release needs at least one workload')
    .refine((w) => Object.keys(w).length <= LIMITS.maxWorkloads, `at most ${LIMITS.maxWorkloads} workloads`),
  notes: z.string().max(4096).optional(),
});
export type ReleaseInput = z.input<typeof ReleaseInput>;

export const Release = ReleaseInput.extend({
  createdAt: z.iso.datetime(),
  /** sha256 of the canonical content; re-creating with the same digest is a no-op, another is a 409. */
  digest: z.string(),
});
export type Release = z.infer<typeof Release>;
