import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ControllerError } from '../errors.js';
import * as S from '../http/schemas.js';
import type { RouteDeps } from '../http/routes/route-deps.js';
import { ChangeStream } from './change-stream.js';
import { DASHBOARD_FILES, defaultDashboardDir, loadDashboardAssets, type DashboardFile } from './dashboard-assets.js';

export interface DashboardOptions extends RouteDeps {
  /** Directory with index.html, app.js and style.css; default: the build's dist/dashboard. */
  assetsDir?: string;
  /** A stream ends after this long and the browser reconnects (re-authenticated): a revoked token is cut off within it. */
  streamMaxSeconds?: number;
  heartbeatSeconds?: number;
}

/**
 * The page only talks to its own origin, runs only its own script, and is
 * never framed. Inline SVG is built through the DOM; style attributes are
 * set through CSSOM, which CSP allows.
 */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-cache',
};

const FileParams = z.strictObject({ file: z.string().max(64) });

/**
 * The web dashboard (DD-042): static files under /ui/ (public: they hold no
 * data; every datum comes from the bearer-protected API), and GET
 * /v1/changes, one server-sent-events stream per browser that says which
 * devices and rollouts changed, so the open page refetches what it shows.
 */
export const dashboardRoutes: FastifyPluginAsyncZod<DashboardOptions> = async (app, opts) => {
  const assets = loadDashboardAssets(opts.assetsDir ?? defaultDashboardDir());
  if (!assets.ok) app.log.warn({ reason: assets.reason }, 'dashboard not built; /ui answers 503');
  const streams = new Set<ChangeStream>();
  const maxMs = (opts.streamMaxSeconds ?? 300) * 1000;
  const heartbeatMs = (opts.heartbeatSeconds ?? 15) * 1000;

  const serve = (file: DashboardFile) => {
    if (!assets.ok) throw new ControllerError('UNAVAILABLE', `the dashboard is not built: ${assets.reason}`);
    return assets.files[file];
  };

  app.get('/', { config: { access: 'public' }, schema: { hide: true } }, async (_request, reply) => reply.redirect('/ui/'));
  app.get('/ui', { config: { access: 'public' }, schema: { hide: true } }, async (_request, reply) => reply.redirect('/ui/'));
  app.get('/ui/', { config: { access: 'public' }, schema: { hide: true } }, async (_request, reply) =>
    reply.headers(PAGE_HEADERS).type(DASHBOARD_FILES['index.html']).send(serve('index.html')),
  );
  app.get('/ui/:file', { config: { access: 'public' }, schema: { hide: true, params: FileParams } }, async (request, reply) => {
    const file = request.params.file;
    if (!Object.hasOwn(DASHBOARD_FILES, file) || file === 'index.html') {
      throw new ControllerError('ROUTE_NOT_FOUND', `no dashboard file ${JSON.stringify(file)}`);
    }
    const name = file as DashboardFile;
    return reply.headers(PAGE_HEADERS).type(DASHBOARD_FILES[name]).send(serve(name));
  });

  app.get(
    '/v1/changes',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['fleet'],
        operationId: 'streamChanges',
        summary: 'Server-sent events: which devices and rollouts changed',
        description:
          'text/event-stream. `event: hello` on connect, then `event: change` with data {"devices":[ids],"rollouts":[ids],"truncated":bool} ' +
          'at most every 250 ms (truncated: too many to list, refetch everything shown), and a comment line every 15 s. Nothing is replayed: ' +
          'refetch after (re)connecting. The stream ends after 5 minutes; reconnect (the token is checked again). Used by the dashboard (/ui/).',
        querystring: S.NoQuery,
        response: { ...S.errorResponses(400) },
      },
    },
    async (request, reply) => {
      reply.hijack();
      const changes = opts.controlPlane.changes;
      let unsubscribe: () => void = () => undefined;
      const stream = new ChangeStream(reply.raw, {
        heartbeatMs,
        maxMs,
        onEnd: () => {
          unsubscribe();
          streams.delete(stream);
        },
      });
      streams.add(stream);
      stream.start();
      if (changes) unsubscribe = changes.subscribe((change) => stream.send(change));
      request.log.debug({ streams: streams.size }, 'change stream opened');
    },
  );

  // Open streams would hold server.close() until they end by themselves.
  app.addHook('preClose', async () => {
    for (const stream of [...streams]) stream.end();
  });
};
