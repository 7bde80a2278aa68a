import type { ControlPlane } from '../../control-plane.js';

/** What every route plugin gets: routes are thin calls into the control plane. */
export interface RouteDeps {
  controlPlane: ControlPlane;
}
