import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import * as A from '../access-schemas.js';
import * as S from '../schemas.js';
import type { RouteDeps } from './route-deps.js';

/** The audit log of mutating calls (DD-025), for admins. */
export const auditRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { controlPlane: cp }) => {
  app.get(
    '/audit',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['access'],
        operationId: 'listAudit',
        summary: 'Who changed what: mutating API calls, newest first',
        description:
          'Every POST, PUT, PATCH and DELETE made with a valid token, allowed or not, with its outcome and request id. ' +
          'The log keeps the newest entries up to a bound (--audit-max-entries, default 10000). Bodies are kept with secrets and env values redacted.',
        querystring: A.AuditQuery,
        response: { 200: A.AuditPage, ...S.errorResponses(400, 403) },
      },
    },
    async (request) => cp.audit.list({ limit: request.query.limit, before: request.query.before }),
  );
};
