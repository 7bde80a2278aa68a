import type { Prober } from '../../reconcile/probes.js';
import type { SimulatedRuntime } from '../simulated-runtime.js';

/**
 * http/tcp health checks of a simulated device: no real socket exists, so a
 * probe asks the simulated engine whether a service runs at that address.
 */
export function simulatedProber(runtime: SimulatedRuntime): Prober {
  return {
    async http(host, port, path) {
      return runtime.answers(host) ? { ok: true, status: 200 } : { ok: false, error: `simulated: connect ECONNREFUSED ${host}:${port} (GET ${path})` };
    },
    async tcp(host, port) {
      return runtime.answers(host) ? { ok: true } : { ok: false, error: `simulated: connect ECONNREFUSED ${host}:${port}` };
    },
  };
}
