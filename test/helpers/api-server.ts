import type { FastifyInstance } from 'fastify';
import { buildApi, type ApiOptions } from '../../controller/http/build-api.js';
import { silentLogger } from '../../shared/logger.js';
import type { ControlPlaneRig } from './control-plane.js';

export interface ListeningApi {
  readonly app: FastifyInstance;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** fetch() on the API with the rig's admin token unless `token` says otherwise (null: no Authorization header). */
  get(path: string, token?: string | null): Promise<Response>;
  close(): Promise<void>;
}

/** The HTTP API of a control-plane rig listening on a random loopback port (for processes that need a real URL, or real HTTP). */
export async function startListeningApi(rig: ControlPlaneRig, opts: Pick<ApiOptions, 'metrics'> = {}): Promise<ListeningApi> {
  const app = await buildApi(rig.controller.controlPlane, { adminTokens: [rig.adminToken], logger: silentLogger(), ...opts });
  try {
    await app.listen({ host: '127.0.0.1', port: 0 });
  } catch (err) {
    await app.close();
    throw err;
  }
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    app,
    url,
    get(path, token = rig.adminToken) {
      return fetch(`${url}${path}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
    },
    close: () => app.close(),
  };
}
