import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from '../../shared/logger.js';
import { AGENT_VERSION } from '../../shared/version.js';
import type { ControlPlane } from '../control-plane.js';
import { installAuth } from './auth.js';
import { installErrorHandling } from './errors.js';
import { installJsonBodyParser } from './json-body.js';
import { transformOpenApiObject } from './openapi.js';
import { commandRoutes } from './routes/commands.js';
import { deploymentRoutes } from './routes/deployments.js';
import { deviceRoutes } from './routes/devices.js';
import { fleetRoutes } from './routes/fleet.js';
import { releaseRoutes } from './routes/releases.js';
import { rolloutRoutes } from './routes/rollouts.js';
import { Health } from './schemas.js';
import { validatorCompiler } from './validation.js';

/** Largest request body accepted; a release with 32 workloads fits with room to spare. */
export const API_BODY_LIMIT_BYTES = 1024 * 1024;

export interface ApiOptions {
  /** Bearer tokens with full access; at least one. Never logged. */
  adminTokens: readonly string[];
  logger: Logger;
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
];

/**
 * The HTTP API on top of the control plane: fastify with zod-validated
 * requests and responses, bearer auth, one error format, /openapi.json and a
 * docs page at /docs. Returns the app ready but not listening; `main` listens,
 * tests use `app.inject()`.
 */
export async function buildApi(controlPlane: ControlPlane, opts: ApiOptions): Promise<FastifyInstance> {
  const logger: FastifyBaseLogger = opts.logger.child({ component: 'http' }, { redact: { paths: REDACTED, censor: '[redacted]' } });
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: API_BODY_LIMIT_BYTES,
    // One line per request at info is noise for an operator API; onResponse logs it at debug.
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installJsonBodyParser(app);
  installErrorHandling(app, { bodyLimitBytes: API_BODY_LIMIT_BYTES });
  installAuth(app, opts.adminTokens);
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
        description: 'Devices, releases, deployments and fleet status. Every /v1 route needs "Authorization: Bearer <admin token>". See docs/api.md.',
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
        { name: 'meta', description: 'Health and API description' },
      ],
    },
    transform: jsonSchemaTransform,
    transformObject: transformOpenApiObject,
  });
  // The UI and its assets ship inside @fastify/swagger-ui: the page works offline.
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  const typed = app.withTypeProvider<ZodTypeProvider>();
  typed.get(
    '/healthz',
    { schema: { tags: ['meta'], operationId: 'health', summary: 'Liveness', security: [], response: { 200: Health } } },
    async () => ({ ok: true as const }),
  );
  typed.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const deps = { controlPlane };
  await app.register(deviceRoutes, { prefix: '/v1', ...deps });
  await app.register(releaseRoutes, { prefix: '/v1', ...deps });
  await app.register(deploymentRoutes, { prefix: '/v1', ...deps });
  await app.register(fleetRoutes, { prefix: '/v1', ...deps });
  await app.register(rolloutRoutes, { prefix: '/v1', ...deps });
  await app.register(commandRoutes, { prefix: '/v1', ...deps });

  await app.ready();
  return app;
}
