import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import * as R from '../registry-credential-schemas.js';
import * as S from '../schemas.js';
import type { RouteDeps } from './route-deps.js';

const tags = ['registries'];
const config = { access: 'admin' as const };

/** Private-registry credentials (DD-041): stored sealed, injected into the desired documents of the devices that pull from the host. */
export const registryCredentialRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { controlPlane: cp }) => {
  app.put(
    '/registry-credentials/:host',
    {
      config,
      schema: {
        tags,
        operationId: 'putRegistryCredential',
        summary: 'Store (or rotate) the credentials of a private registry',
        description:
          'The password is sealed with the controller key and never returned. Every device whose workloads pull from the host gets a new desired document with the credentials (a rotation reaches devices without a redeploy).',
        params: R.RegistryCredentialParams,
        body: R.PutRegistryCredentialBody,
        querystring: S.NoQuery,
        response: { 200: R.RegistryCredentialChange, ...S.errorResponses(400, 403, 409) },
      },
    },
    async (request) => cp.registryCredentials.put({ host: request.params.host, ...request.body }),
  );

  app.get(
    '/registry-credentials',
    {
      config,
      schema: {
        tags,
        operationId: 'listRegistryCredentials',
        summary: 'List the stored registry credentials: hosts, usernames, when updated (never passwords)',
        querystring: S.NoQuery,
        response: { 200: R.RegistryCredentialList, ...S.errorResponses(400, 403) },
      },
    },
    async () => ({ credentials: await cp.registryCredentials.list() }),
  );

  app.delete(
    '/registry-credentials/:host',
    {
      config,
      schema: {
        tags,
        operationId: 'deleteRegistryCredential',
        summary: 'Remove the credentials of a registry',
        description: 'The devices that pulled from the host get a new desired document without them.',
        params: R.RegistryCredentialParams,
        querystring: S.NoQuery,
        response: { 200: R.RegistryCredentialChange, ...S.errorResponses(400, 403, 404) },
      },
    },
    async (request) => cp.registryCredentials.remove(request.params.host),
  );
};
