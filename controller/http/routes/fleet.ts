import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import * as S from '../schemas.js';
import type { RouteDeps } from './route-deps.js';

/** Fleet-wide summary: counts by phase, online/offline, by release. */
export const fleetRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { controlPlane: cp }) => {
  app.get(
    '/fleet',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['fleet'],
        operationId: 'getFleet',
        summary: 'Fleet summary',
        querystring: S.NoQuery,
        response: { 200: S.FleetSummary.describe('Fleet counts'), ...S.errorResponses(400) },
      },
    },
    async () => cp.fleetSummary(),
  );
};
