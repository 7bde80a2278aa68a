import { randomUUID } from 'node:crypto';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from '../../shared/logger.js';
import type { MetricsEndpoint } from '../../shared/metrics-endpoint.js';
import { AGENT_VERSION } from '../../shared/version.js';
import type { ControlPlane } from '../control-plane.js';
import { dashboardRoutes, type DashboardOptions } from '../dashboard/dashboard-routes.js';
import { installAudit } from './audit-hook.js';
import { installAuth } from './auth.js';
import { frameworkErrorHandler, installErrorHandling } from './errors.js';
import { installJsonBodyParser } from './json-body.js';
import { transformOpenApiObject } from './openapi.js';
import { accessSchemaTransform, trackRouteAccess, withAccess } from './route-access.js';
import { auditRoutes } from './routes/audit.js';
import { certificateRoutes } from './routes/certificates.js';
import { commandRoutes } from './routes/commands.js';
import { deploymentRoutes } from './routes/deployments.js';
import { deviceRoutes } from './routes/devices.js';
import { fleetRoutes } from './routes/fleet.js';
import { metricsRoutes } from './routes/metrics.js';
import { releaseRoutes } from './routes/releases.js';
import { rolloutRoutes } from './routes/rollouts.js';
import { registryCredentialRoutes } from './routes/registry-credentials.js';
import { signingRoutes } from './routes/signing.js';
import { tokenRoutes } from './routes/tokens.js';
import { Health } from './schemas.js';
import { validatorCompiler } from './validation.js';

/** Largest request body accepted; a release with 32 workloads fits with room to spare. */
export const API_BODY_LIMIT_BYTES = 1024 * 1024;

export interface ApiOptions {
  /** Bearer tokens with the admin role from the configuration (the bootstrap); at least one. Never logged. */
  adminTokens: readonly string[];
  logger: Logger;
  /** Clock of audit entries; Date.now by default. */
  now?: () => number;
  /** PEM certificate and key: the API serves HTTPS (DD-023). */
  https?: { cert: Buffer; key: Buffer };
  /** Serves GET /metrics (DD-039): a token of any role, or none when `public`. Absent: no /metrics route. */
  metrics?: { endpoint: MetricsEndpoint; public: boolean };
  /** The web dashboard at /ui/ and its change stream (DD-042); defaults suit production. */
  dashboard?: Omit<DashboardOptions, 'controlPlane'>;
}

/**
 * Headers that must never reach a log line, whatever a future log call
 * passes. Fastify's own request serializer leaves headers out; this is the
 * second line of defence.
 */
const REDACTED = [
  'req.headers.authorization',
  'request.headers.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'authorization',
  // DD-041: a registry password in a request body (fastify never logs bodies; a future log call must not either).
  'body.password',
  'req.body.password',
  'request.body.password',
];

/**
 * The HTTP API on top of the control plane: fastify with zod-validated
 * requests and responses, bearer auth with roles declared per route and an
 * audit log of changes (DD-025), one error format, /openapi.json and a
 * docs page at /docs. Returns the app ready but not listening; `main` listens,
 * tests use `app.inject()`.
 */
export async function buildApi(controlPlane: ControlPlane, opts: ApiOptions): Promise<FastifyInstance> {
  const logger: FastifyBaseLogger = opts.logger.child({ component: 'http' }, { redact: { paths: REDACTED, censor: '[redacted]' } });
  const app = Fastify({
    loggerInstance: logger,
    // Random, so audit entries and log lines of several controllers (and restarts) never share an id.
    genReqId: () => randomUUID(),
    bodyLimit: API_BODY_LIMIT_BYTES,
    // One line per request at info is noise for an operator API; onResponse logs it at debug.
    logController: new LogController({ disableRequestLogging: true }),
    frameworkErrors: frameworkErrorHandler({ bodyLimitBytes: API_BODY_LIMIT_BYTES }),
    ...httpsOption(opts.https),
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installJsonBodyParser(app);
  installErrorHandling(app, { bodyLimitBytes: API_BODY_LIMIT_BYTES });
  const checkRouteAccess = trackRouteAccess(app);
  installAudit(app, { audit: controlPlane.audit, now: opts.now ?? Date.now });
  installAuth(app, { adminTokens: opts.adminTokens, tokens: controlPlane.tokens });
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug(
      { method: request.method, url: request.url, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request',
    );
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Outpost controller API',
        version: AGENT_VERSION,
        description:
          'Devices, releases, deployments and fleet status. Every route except /healthz needs "Authorization: Bearer <API token>"; ' +
          'x-outpost-access on each operation names the weakest role that may call it (viewer, operator, admin). See docs/api.md.',
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearerAuth: [] }],
      tags: [
        { name: 'devices', description: 'Enrollment, labels, overrides, pins, desired and reported state' },
        { name: 'releases', description: 'Immutable app@version with its workloads' },
        { name: 'deployments', description: 'Releases assigned to devices or label selectors' },
        { name: 'commands', description: 'Restart, logs, ping and resync on one device; its telemetry' },
        { name: 'rollouts', description: 'Releases moved to a target in waves, with thresholds, timeouts, windows and operations' },
        { name: 'fleet', description: 'Fleet-wide summary' },
        { name: 'access', description: 'API tokens with roles, and the audit log of changes' },
        { name: 'registries', description: 'Private-registry credentials, injected into the desired documents of the devices that pull from them' },
        { name: 'meta', description: 'Health and API description' },
      ],
    },
    transform: accessSchemaTransform,
    transformObject: transformOpenApiObject,
  });
  // The UI and its assets ship inside @fastify/swagger-ui: the page works offline.
  // Like every route but /healthz, the API description needs a token (any role).
  await app.register(async (docs) => {
    withAccess(docs, 'viewer');
    await docs.register(fastifySwaggerUi, { routePrefix: '/docs' });
  });

  const typed = app.withTypeProvider<ZodTypeProvider>();
  typed.get(
    '/healthz',
    { config: { access: 'public' }, schema: { tags: ['meta'], operationId: 'health', summary: 'Liveness', security: [], response: { 200: Health } } },
    async () => ({ ok: true as const }),
  );
  typed.get('/openapi.json', { config: { access: 'viewer' }, schema: { hide: true } }, async () => app.swagger());

  const deps = { controlPlane };
  await app.register(deviceRoutes, { prefix: '/v1', ...deps });
  await app.register(releaseRoutes, { prefix: '/v1', ...deps });
  await app.register(deploymentRoutes, { prefix: '/v1', ...deps });
  await app.register(fleetRoutes, { prefix: '/v1', ...deps });
  await app.register(rolloutRoutes, { prefix: '/v1', ...deps });
  await app.register(commandRoutes, { prefix: '/v1', ...deps });
  await app.register(tokenRoutes, { prefix: '/v1', ...deps });
  await app.register(auditRoutes, { prefix: '/v1', ...deps });
  await app.register(signingRoutes, { prefix: '/v1', ...deps });
  await app.register(certificateRoutes, { prefix: '/v1', ...deps });
  if (opts.metrics) await app.register(metricsRoutes, { metrics: opts.metrics.endpoint, public: opts.metrics.public });
  await app.register(registryCredentialRoutes, { prefix: '/v1', ...deps });
  await app.register(dashboardRoutes, { ...deps, ...opts.dashboard });
  checkRouteAccess();

  await app.ready();
  return app;
}

/**
 * `{ https }` when given. fastify types an HTTPS instance apart from an HTTP
 * one, though this API uses both alike (listen, inject, close, server.address),
 * so the option is spread untyped and the instance keeps the HTTP type.
 */
function httpsOption(https: ApiOptions['https']): object {
  return https ? { https } : {};
}
