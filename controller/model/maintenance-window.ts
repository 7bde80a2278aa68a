import { z } from 'zod';
import { checkCron } from '../../shared/maintenance-window.js';
import { MaintenanceWindow as WireMaintenanceWindow } from '../../shared/schemas/desired-state.js';
import { isValidTimeZone } from '../../shared/wall-clock.js';

/**
 * Same shape as the window in desired documents, plus checks that the cron
 * and timezone are usable: rollouts schedule waves in it, deployments hand it
 * to agents (DD-040), and an agent cannot say that a window it got is wrong.
 */
export const MaintenanceWindow = WireMaintenanceWindow.superRefine((w, ctx) => {
  if (!isValidTimeZone(w.timezone)) {
    ctx.addIssue({ code: 'custom', path: ['timezone'], message: `unknown IANA timezone "${w.timezone}" (e.g. Europe/Berlin, UTC)` });
  }
  const cronError = checkCron(w.cron);
  if (cronError) ctx.addIssue({ code: 'custom', path: ['cron'], message: cronError });
});
export type MaintenanceWindow = z.infer<typeof MaintenanceWindow>;
