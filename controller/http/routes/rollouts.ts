import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ROLLOUT_OPERATIONS, type RolloutOperation } from '../../rollout/rollout-service.js';
import * as R from '../rollout-schemas.js';
import * as S from '../schemas.js';
import type { RouteDeps } from './route-deps.js';

const tags = ['rollouts'];

const OPERATION_TEXT: Record<RolloutOperation, { summary: string; description: string }> = {
  pause: { summary: 'Pause a rollout', description: 'No further devices are notified; device reports are still recorded. From scheduled or running.' },
  resume: {
    summary: 'Resume a paused rollout',
    description: 'When the rollout was paused because its current wave failed, resuming accepts that wave and goes on with the next one.',
  },
  abort: { summary: 'Abort a rollout', description: 'No further devices are moved; devices already moved stay on the new release.' },
  rollback: {
    summary: 'Roll a rollout back',
    description: 'Every device the rollout moved returns to its previous release, as a new, higher desired version. Also from succeeded or aborted.',
  },
  advance: {
    summary: 'Advance to the next wave by hand',
    description: 'Records the current wave as passed (manual), whatever its counts, and starts the next one; on the last wave the rollout succeeds.',
  },
};

/** Rollouts: a release moved to a target in waves, with thresholds, timeouts, windows and operations. */
export const rolloutRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { controlPlane: cp }) => {
  app.post(
    '/rollouts',
    {
      config: { access: 'operator' },
      schema: {
        tags,
        operationId: 'createRollout',
        summary: 'Create a rollout',
        description:
          'Waves are planned from the target as it is now (devices that join later are placed in a later wave). The rollout starts at startAt, or at once; its progress is on GET /v1/rollouts/{id} and, retained, on MQTT {prefix}/rollouts/{id}/status.',
        body: R.CreateRolloutBody,
        querystring: S.NoQuery,
        response: { 201: R.RolloutEnvelope.describe('Created'), 200: R.RolloutEnvelope.describe('The same request again (same id and spec)'), ...S.errorResponses(403, 400, 404, 409) },
      },
    },
    async (request, reply) => {
      const { rollout, created } = await cp.rollouts.create(request.body);
      return reply.code(created ? 201 : 200).send({ rollout });
    },
  );

  app.get(
    '/rollouts',
    {
      config: { access: 'viewer' },
      schema: {
        tags,
        operationId: 'listRollouts',
        summary: 'List rollouts, newest first',
        querystring: S.NoQuery,
        response: { 200: R.RolloutList, ...S.errorResponses(400) },
      },
    },
    async () => ({ rollouts: await cp.rollouts.list() }),
  );

  app.get(
    '/rollouts/:id',
    {
      config: { access: 'viewer' },
      schema: {
        tags,
        operationId: 'getRollout',
        summary: 'A rollout: phase, waves with counts, per-device status and reason',
        params: R.RolloutParams,
        querystring: S.NoQuery,
        response: { 200: R.RolloutEnvelope, ...S.errorResponses(400, 404) },
      },
    },
    async (request) => ({ rollout: await cp.rollouts.get(request.params.id) }),
  );

  for (const operation of ROLLOUT_OPERATIONS) {
    const text = OPERATION_TEXT[operation];
    app.post(
      `/rollouts/:id/${operation}`,
      {
        config: { access: 'operator' },
        schema: {
          tags,
          operationId: `${operation}Rollout`,
          summary: text.summary,
          description: `${text.description} 409 ROLLOUT_PHASE_CONFLICT when the rollout's phase does not allow it; the message says why.`,
          params: R.RolloutParams,
          querystring: S.NoQuery,
          response: { 200: R.RolloutEnvelope, ...S.errorResponses(403, 400, 404, 409, 503) },
        },
      },
      async (request) => ({ rollout: await cp.rollouts.operate(request.params.id, operation) }),
    );
  }
};
