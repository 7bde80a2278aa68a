import { z } from 'zod';
import { OutpostError } from '../../../shared/errors.js';
import { formatIssues } from '../../../shared/decode.js';

export const SimHealthStatus = z.enum(['starting', 'healthy', 'unhealthy']);
export type SimHealthStatus = z.infer<typeof SimHealthStatus>;

const Rate = z.number().min(0).max(1);

/**
 * How a simulated device's container engine behaves. Faults are drawn from a
 * seeded generator and are sticky per image (a device that cannot pull or run
 * an image keeps failing on it, as a device with a broken layer or the wrong
 * architecture would), so a rehearsal shows the same failed devices each run.
 */
export const SimulationConfig = z.strictObject({
  seed: z.number().int().default(1),
  /** Mean pull time per image; each pull takes 0.5–1.5 × this. */
  pullLatencyMs: z.number().int().min(0).default(200),
  /** Mean time a start takes before the container runs; 0.5–1.5 × this. */
  startLatencyMs: z.number().int().min(0).default(50),
  /** Share of images this device cannot pull (IMAGE_PULL_FAILED, as the Docker runtime raises it). */
  pullFailureRate: Rate.default(0),
  /** Share of images whose containers this device cannot start (CONTAINER_START_FAILED). */
  startFailureRate: Rate.default(0),
  /** Share of container starts whose health follows `flakyHealthSequence` instead of the health check's verdict. */
  flakyHealthRate: Rate.default(0),
  /** Health statuses a flaky container goes through, one per health-check interval; the last one stays. */
  flakyHealthSequence: z.array(SimHealthStatus).min(1).default(['starting', 'unhealthy']),
  /** Images on the device before anything is pulled (a factory image). */
  preloadedImages: z.array(z.string().min(1)).default([]),
  /** Registry hosts (`host:port`) the simulated device cannot reach: pulls fail with IMAGE_PULL_FAILED. */
  unreachableRegistries: z.array(z.string().min(1)).default([]),
  /** When set, the only references the simulated registries hold; any other pull fails with IMAGE_NOT_FOUND. Absent: every reference exists. */
  registryImages: z.array(z.string().min(1)).optional(),
  /** Executables the simulated images do not contain: starting a container that runs one fails, as with Docker. */
  missingExecutables: z.array(z.string().min(1)).default([]),
});
export type SimulationConfig = z.infer<typeof SimulationConfig>;
export type SimulationConfigInput = z.input<typeof SimulationConfig>;

export function parseSimulationConfig(input: unknown): Readonly<SimulationConfig> {
  const parsed = SimulationConfig.safeParse(input);
  if (!parsed.success) throw new OutpostError('CONFIG_INVALID', `invalid simulation settings: ${formatIssues(parsed.error.issues, 20)}`);
  return Object.freeze(parsed.data);
}
