import { z } from 'zod';

/**
 * API roles (DD-025), weakest first: each one may do everything the ones
 * before it may.
 *
 * - viewer: every read (GET).
 * - operator: what changes what devices run — releases, deployments,
 *   rollouts, device commands, labels, overrides and pins.
 * - admin: credentials and the record of who did what — device enrolment,
 *   secret rotation and decommission (each issues or revokes a broker
 *   credential), API tokens, and the audit log.
 */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export const Role = z.enum(ROLES);
export type Role = z.infer<typeof Role>;

/** What a route declares: public (no token at all), or the weakest role that may call it. */
export type RouteAccess = 'public' | Role;

const RANK: Record<RouteAccess, number> = { public: 0, viewer: 1, operator: 2, admin: 3 };

/** True when a caller holding `held` may call a route that declares `needed`. */
export function roleAllows(held: Role, needed: RouteAccess): boolean {
  return RANK[held] >= RANK[needed];
}

/** Who made a request: an API token from the store, or an admin token from the controller's configuration. */
export interface Principal {
  /** null for a configuration admin token (it has no id: it lives in config, not in Redis). */
  tokenId: string | null;
  name: string;
  role: Role;
}

/** The name audit entries and `createdBy` give a configuration admin token. */
export const CONFIG_ADMIN_NAME = 'config-admin';
