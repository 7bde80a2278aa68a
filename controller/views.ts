import type { z } from 'zod';
import type * as schemas from './http/schemas.js';

/*
 * What the control plane returns to the API and CLI. The zod schemas live in
 * http/schemas.ts (responses are validated and documented from them); these
 * types are their z.infer, so the service layer and the wire format cannot
 * drift. Field documentation is in the schemas' descriptions.
 */

/** One row of `device ls`. */
export type DeviceSummary = z.infer<typeof schemas.DeviceSummary>;

/** A device with its overrides, the apps composed for it, and its desired and reported state. */
export type DeviceDetail = z.infer<typeof schemas.DeviceDetail>;

/** A deployment with the devices it targets, where it applies, and where it runs. */
export type DeploymentDetail = z.infer<typeof schemas.DeploymentDetail>;

/** Fleet-wide counts. */
export type FleetSummary = z.infer<typeof schemas.FleetSummary>;
