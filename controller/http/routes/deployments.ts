import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import * as S from '../schemas.js';
import type { RouteDeps } from './route-deps.js';

const tags = ['deployments'];

/** Deployments: app@version to explicit devices or a label selector, with a priority. */
export const deploymentRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { controlPlane: cp }) => {
  app.post(
    '/deployments',
    {
      config: { access: 'operator' },
      schema: {
        tags,
        operationId: 'createDeployment',
        summary: 'Deploy a release to devices or a selector',
        description:
          'Per app, the highest-priority deployment that targets a device wins (ties: newest). The deployment and what it affects are stored in one atomic step; ' +
          'the affected devices are recomputed and published before the response (`delivery` says whether every document is on the broker yet). ' +
          'With a client-supplied `id`, repeating the same request answers 200 with `created: false`.',
        body: S.CreateDeploymentBody,
        querystring: S.NoQuery,
        response: { 201: S.CreatedDeployment, 200: S.CreatedDeployment, ...S.errorResponses(403, 400, 404, 409) },
      },
    },
    async (request, reply) => {
      const { deployment, created, delivery } = await cp.createDeployment(request.body);
      return reply.code(created ? 201 : 200).send({ deployment, published: delivery.published, created, delivery });
    },
  );

  app.get(
    '/deployments',
    {
      config: { access: 'viewer' },
      schema: {
        tags,
        operationId: 'listDeployments',
        summary: 'List deployments, newest first',
        querystring: S.NoQuery,
        response: { 200: S.DeploymentList, ...S.errorResponses(400) },
      },
    },
    async () => ({ deployments: await cp.listDeployments() }),
  );

  app.get(
    '/deployments/:id',
    {
      config: { access: 'viewer' },
      schema: {
        tags,
        operationId: 'getDeployment',
        summary: 'A deployment with targeted, applied, shadowed, pinned and running devices',
        params: S.DeploymentParams,
        querystring: S.NoQuery,
        response: { 200: S.DeploymentDetail.describe('The deployment'), ...S.errorResponses(400, 404) },
      },
    },
    async (request) => cp.getDeployment(request.params.id),
  );

  app.delete(
    '/deployments/:id',
    {
      config: { access: 'operator' },
      schema: {
        tags,
        operationId: 'deleteDeployment',
        summary: 'Remove a deployment',
        description:
          'The devices it targeted fall back to the next deployment of the app, or drop the app. A retried DELETE (within a day) answers 200 with `alreadyRemoved: true`.',
        params: S.DeploymentParams,
        querystring: S.NoQuery,
        response: { 200: S.Published, ...S.errorResponses(403, 400, 404) },
      },
    },
    async (request) => {
      const { alreadyRemoved, delivery } = await cp.removeDeployment(request.params.id);
      return { published: delivery.published, alreadyRemoved, delivery };
    },
  );
};
