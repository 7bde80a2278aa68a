import { randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApi } from '../../controller/http/build-api.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import type { ControllerConfigInput } from '../../controller/config.js';
import { startControlPlane, type ControlPlaneRig } from './control-plane.js';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface ApiResponse {
  status: number;
  /** Parsed JSON body; undefined when the body is empty or not JSON. */
  body: unknown;
  raw: LightMyRequestResponse;
}

export interface ApiRig {
  readonly rig: ControlPlaneRig;
  readonly app: FastifyInstance;
  readonly token: string;
  /** A request with the admin token (unless `headers` says otherwise); objects are sent as JSON. */
  call(method: Method, url: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse>;
  close(): Promise<void>;
}

/** A real control plane (Redis, broker, controller) with the HTTP API built on it, for `inject()`. */
export async function startApi(opts: { logger?: Logger; controller?: Partial<ControllerConfigInput> } = {}): Promise<ApiRig> {
  const rig = await startControlPlane(opts.controller ? { controller: opts.controller } : {});
  let app: FastifyInstance;
  try {
    app = await buildApi(rig.controller.controlPlane, { adminTokens: [rig.adminToken], logger: opts.logger ?? silentLogger() });
  } catch (err) {
    await rig.close();
    throw err;
  }
  const token = rig.adminToken;
  return {
    rig,
    app,
    token,
    async call(method, url, body, headers) {
      const raw = await app.inject({
        method,
        url,
        headers: headers ?? { authorization: `Bearer ${token}` },
        ...(body === undefined ? {} : typeof body === 'string' ? { payload: body } : { payload: body as object }),
      });
      const json = raw.body !== '' && String(raw.headers['content-type']).startsWith('application/json');
      return { status: raw.statusCode, body: json ? (JSON.parse(raw.body) as unknown) : undefined, raw };
    },
    async close() {
      await app.close();
      await rig.close();
    },
  };
}

/**
 * Routes whose answer is an endless stream (server-sent events, DD-042):
 * inject() would wait for its end forever, so tests that call every route
 * leave them out (test/integration/dashboard-api.test.ts covers them).
 */
export const STREAMING_ROUTES: ReadonlySet<string> = new Set(['GET /v1/changes']);

/** A fresh id per test, valid as a device id, app name or deployment id. */
export function freshId(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** The `error` of an error response body. */
export function errorOf(res: ApiResponse): { code: string; message: string; details?: Record<string, unknown> } {
  const body = res.body as { error?: { code: string; message: string; details?: Record<string, unknown> } } | undefined;
  if (!body?.error) throw new Error(`not an error response (${res.status}): ${res.raw.body}`);
  return body.error;
}
