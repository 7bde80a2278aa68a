import type { SwaggerTransform } from '@fastify/swagger';
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import type { Principal, RouteAccess } from '../access/roles.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Who may call the route (DD-025): `public` (no token), or the weakest
     * role that may. Every route declares it; buildApi refuses to start with
     * a route that does not.
     */
    access?: RouteAccess;
  }
  interface FastifyRequest {
    /** Who made the request, once authenticated; null on public routes and before the auth hook. */
    principal: Principal | null;
  }
}

/** The OpenAPI operation extension that carries a route's access. */
export const ACCESS_EXTENSION = 'x-outpost-access';

/**
 * Records every route as it is added; the returned check throws, naming
 * them, when any route has no declared access. Routes added by plugins get
 * theirs through `withAccess` below (onRoute hooks see the same options
 * object, so a later hook's change is visible here).
 */
export function trackRouteAccess(app: FastifyInstance): () => void {
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (route) => {
    routes.push(route);
  });
  return () => {
    const missing = routes.filter((r) => r.config?.access === undefined).map((r) => `${String(r.method)} ${r.url}`);
    if (missing.length > 0) throw new Error(`every API route must declare config.access (DD-025); these do not: ${missing.join(', ')}`);
  };
}

/** Gives every route a plugin registers in this context the same access (for plugins whose routes we do not write, e.g. the docs page). */
export function withAccess(app: FastifyInstance, access: RouteAccess): void {
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, access };
  });
}

/** jsonSchemaTransform plus each operation's access as `x-outpost-access`, so clients and docs can see which role a route needs. */
export const accessSchemaTransform: SwaggerTransform<FastifySchema & { hide?: boolean }> = (input) => {
  const out = jsonSchemaTransform(input);
  const access = input.route.config?.access;
  return access === undefined ? out : { ...out, schema: { ...out.schema, [ACCESS_EXTENSION]: access } as FastifySchema };
};
