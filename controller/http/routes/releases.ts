import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import * as S from '../schemas.js';
import type { RouteDeps } from './route-deps.js';

const tags = ['releases'];

/** Releases: immutable app@version with its workloads. */
export const releaseRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { controlPlane: cp }) => {
  app.post(
    '/releases',
    {
      config: { access: 'operator' },
      schema: {
        tags,
        operationId: 'createRelease',
        summary: 'Create a release',
        description:
          'Releases are immutable: 201 when created, 200 when an identical release already exists, 409 RELEASE_CONFLICT when the version exists with other content.',
        body: S.CreateReleaseBody,
        querystring: S.NoQuery,
        response: { 201: S.ReleaseEnvelope.describe('Created'), 200: S.ReleaseEnvelope.describe('An identical release already existed'), ...S.errorResponses(403, 400, 409) },
      },
    },
    async (request, reply) => {
      const { release, created } = await cp.createRelease(request.body);
      return reply.code(created ? 201 : 200).send({ release });
    },
  );

  app.get(
    '/releases',
    {
      config: { access: 'viewer' },
      schema: {
        tags,
        operationId: 'listReleases',
        summary: 'List releases, newest first',
        querystring: S.ListReleasesQuery,
        response: { 200: S.ReleaseList, ...S.errorResponses(400) },
      },
    },
    async (request) => ({ releases: await cp.listReleases(request.query.app) }),
  );

  app.get(
    '/releases/:app/:version',
    {
      config: { access: 'viewer' },
      schema: {
        tags,
        operationId: 'getRelease',
        summary: 'One release',
        params: S.ReleaseParams,
        querystring: S.NoQuery,
        response: { 200: S.ReleaseEnvelope, ...S.errorResponses(400, 404) },
      },
    },
    async (request) => ({ release: await cp.getRelease(request.params.app, request.params.version) }),
  );
};
