import { z } from 'zod';

/**
 * The one retry-delay function (style rule 5): exponential growth with full
 * jitter (AWS architecture blog, "Exponential Backoff And Jitter"), capped.
 * A fleet that lost its broker therefore reconnects spread over the window
 * instead of in lock-step.
 */
export const BackoffPolicy = z.object({
  baseMs: z.number().int().positive(),
  capMs: z.number().int().positive(),
  factor: z.number().min(1).default(2),
});
export type BackoffPolicy = z.infer<typeof BackoffPolicy>;

export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exp = Math.min(policy.capMs, policy.baseMs * Math.pow(policy.factor, Math.max(0, attempt)));
  return Math.floor(random() * exp);
}

/** Ceiling for an attempt: what the jittered delay is drawn below. */
export function backoffCeilingMs(attempt: number, policy: BackoffPolicy): number {
  return Math.min(policy.capMs, policy.baseMs * Math.pow(policy.factor, Math.max(0, attempt)));
}
