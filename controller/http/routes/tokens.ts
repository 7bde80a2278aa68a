import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { CONFIG_ADMIN_NAME } from '../../access/roles.js';
import * as A from '../access-schemas.js';
import * as S from '../schemas.js';
import type { RouteDeps } from './route-deps.js';

const tags = ['access'];
const config = { access: 'admin' as const };

/** API tokens (DD-025): created, listed and revoked by admins. */
export const tokenRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { controlPlane: cp }) => {
  app.post(
    '/tokens',
    {
      config,
      schema: {
        tags,
        operationId: 'createToken',
        summary: 'Create an API token with a role',
        description: 'The bearer value (`secret`) is in this response only; the controller keeps a sha256 of it. Names are unique among live tokens.',
        body: A.CreateTokenBody,
        querystring: S.NoQuery,
        response: { 201: A.CreatedToken, ...S.errorResponses(400, 403, 409) },
      },
    },
    async (request, reply) => {
      const createdBy = request.principal?.name ?? CONFIG_ADMIN_NAME;
      return reply.code(201).send(await cp.tokens.create({ ...request.body, createdBy }));
    },
  );

  app.get(
    '/tokens',
    {
      config,
      schema: {
        tags,
        operationId: 'listTokens',
        summary: 'List the live API tokens (never their secrets)',
        querystring: S.NoQuery,
        response: { 200: A.TokenList, ...S.errorResponses(400, 403) },
      },
    },
    async () => ({ tokens: await cp.tokens.list() }),
  );

  app.delete(
    '/tokens/:id',
    {
      config,
      schema: {
        tags,
        operationId: 'revokeToken',
        summary: 'Revoke an API token',
        description: 'Takes effect at once: the next request with the token is refused with 401. The admin tokens of the controller configuration cannot be revoked here.',
        params: A.TokenParams,
        querystring: S.NoQuery,
        response: { 200: A.TokenEnvelope, ...S.errorResponses(400, 403, 404) },
      },
    },
    async (request) => ({ token: await cp.tokens.revoke(request.params.id) }),
  );
};
