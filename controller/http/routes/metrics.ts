import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { MetricsEndpoint } from '../../../shared/metrics-endpoint.js';

export interface MetricsRouteOptions {
  metrics: MetricsEndpoint;
  /** DD-039: without a token (for scrapers on a trusted network); otherwise any API token (role viewer or above). */
  public: boolean;
}

/** GET /metrics: the controller's Prometheus metrics (DD-039). */
export const metricsRoutes: FastifyPluginAsyncZod<MetricsRouteOptions> = async (app, opts) => {
  app.get(
    '/metrics',
    {
      config: { access: opts.public ? 'public' : 'viewer' },
      schema: {
        tags: ['meta'],
        operationId: 'metrics',
        summary: 'Prometheus metrics',
        description:
          'Prometheus text format 0.0.4: fleet gauges computed at scrape time from the same read model as GET /v1/fleet, ' +
          'per-process counters, Redis latency and process metrics. Needs a token of any role unless the controller runs ' +
          'with --metrics-public. See docs/operations.md, "Metrics".',
        produces: ['text/plain'],
        ...(opts.public ? { security: [] } : {}),
        response: { 200: z.string().describe('Prometheus text exposition') },
      },
    },
    async (_request, reply) => {
      const text = await opts.metrics.render();
      // A non-JSON content type: fastify sends the string as it is, no serializer involved.
      return reply.type(opts.metrics.contentType).send(text);
    },
  );
};
