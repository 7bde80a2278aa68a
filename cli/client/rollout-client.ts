import { generateRolloutId } from '../../controller/rollout/rollout-id.js';
import { z } from 'zod';
import type { ApiClient } from './api-client.js';

/**
 * The rollout routes, as the CLI needs them. Loose objects like the rest of
 * the client's answers (responses.ts): `--json` prints the whole answer and
 * a newer API adding fields never breaks an older CLI.
 */
const Counts = z.looseObject({
  pending: z.number(),
  notified: z.number(),
  applying: z.number(),
  succeeded: z.number(),
  failed: z.number(),
  timedOut: z.number(),
});
export type RolloutCountsBody = z.infer<typeof Counts>;

const Wave = z.looseObject({
  index: z.number(),
  size: z.number(),
  canary: z.boolean(),
  startedAt: z.string().nullable(),
  evaluatedAt: z.string().nullable(),
  outcome: z.enum(['passed', 'failed']).nullable(),
  reason: z.string().nullable(),
  manual: z.boolean().optional(),
  counts: Counts,
});

export const RolloutSummaryBody = z.looseObject({
  id: z.string(),
  app: z.string(),
  toVersion: z.string(),
  phase: z.string(),
  currentWave: z.number(),
  reason: z.string().nullable(),
  totals: Counts,
  lateSuccesses: z.number(),
  waves: z.array(Wave),
  revision: z.number(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type RolloutSummaryBody = z.infer<typeof RolloutSummaryBody>;

export const RolloutDeviceBody = z.looseObject({
  deviceId: z.string(),
  wave: z.number(),
  status: z.string(),
  reason: z.string().nullable(),
  version: z.number().nullable(),
  notifiedAt: z.string().nullable(),
  succeededAt: z.string().nullable(),
  lateSuccess: z.boolean(),
});
export type RolloutDeviceBody = z.infer<typeof RolloutDeviceBody>;

export const RolloutDetailBody = RolloutSummaryBody.extend({
  deploymentId: z.string(),
  spec: z.looseObject({}),
  waves: z.array(Wave.extend({ devices: z.array(z.string()) })),
  devices: z.array(RolloutDeviceBody),
});
export type RolloutDetailBody = z.infer<typeof RolloutDetailBody>;

export type RolloutOperationName = 'pause' | 'resume' | 'abort' | 'rollback' | 'advance';

const Envelope = z.looseObject({ rollout: RolloutDetailBody });
const seg = encodeURIComponent;

/** With an id chosen here (unless given) the create is idempotent, so it is retried after a lost answer. */
export async function createRollout(client: ApiClient, spec: Record<string, unknown>): Promise<RolloutDetailBody> {
  const id = typeof spec.id === 'string' ? spec.id : generateRolloutId(String(spec.app), String(spec.toVersion));
  return (await client.request('POST', '/v1/rollouts', Envelope, { body: { ...spec, id }, idempotent: true })).body.rollout;
}

export async function listRollouts(client: ApiClient): Promise<RolloutSummaryBody[]> {
  return (await client.request('GET', '/v1/rollouts', z.looseObject({ rollouts: z.array(RolloutSummaryBody) }))).body.rollouts;
}

export async function getRollout(client: ApiClient, id: string): Promise<RolloutDetailBody> {
  return (await client.request('GET', `/v1/rollouts/${seg(id)}`, Envelope)).body.rollout;
}

export async function operateRollout(client: ApiClient, id: string, operation: RolloutOperationName): Promise<RolloutDetailBody> {
  // Repeating pause, abort or rollback answers the rollout as it is; resume and advance are not repeated.
  const idempotent = operation === 'pause' || operation === 'abort' || operation === 'rollback';
  return (await client.request('POST', `/v1/rollouts/${seg(id)}/${operation}`, Envelope, { idempotent })).body.rollout;
}
