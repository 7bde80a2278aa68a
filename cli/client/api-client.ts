import { z } from 'zod';
import type { DeploymentInput } from '../../controller/model/deployment.js';
import type { ReleaseInput } from '../../controller/model/release.js';
import {
  ApiErrorBody,
  CommandViewBody,
  DeploymentBody,
  DeploymentDetailBody,
  DesiredBody,
  DeviceBody,
  DeviceDetailBody,
  DeviceEventBody,
  DeviceSummaryBody,
  DecommissionBody,
  DeliveryBody,
  FleetSummaryBody,
  PublishedBody,
  ReleaseBody,
  TelemetryBody,
} from './responses.js';

export const DEFAULT_TIMEOUT_MS = 30_000;

const DeviceChangeBody = z.looseObject({ device: DeviceBody, delivery: DeliveryBody.optional() });

/**
 * Any failure talking to the API. `code` is the API's stable error code
 * (controller/errors.ts) or one of the client's own: API_UNREACHABLE,
 * API_CERT_UNTRUSTED, API_TIMEOUT, API_RESPONSE_INVALID, HTTP_<status>. `status` is 0 when no
 * HTTP answer arrived.
 */
export class ApiClientError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: unknown;

  constructor(code: string, status: number, message: string, options: { cause?: unknown; details?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ApiClientError';
    this.code = code;
    this.status = status;
    this.details = options.details;
  }
}

export interface ApiClientOptions {
  /** e.g. http://127.0.0.1:8080 (a trailing slash is ignored). */
  baseUrl: string;
  token?: string | undefined;
  timeoutMs?: number;
  fetch?: typeof globalThis.fetch;
  /** Pause before the n-th retry of an idempotent request: n × this. */
  retryDelayMs?: number;
}

type Query = Record<string, string | number | undefined>;

interface RequestOptions {
  query?: Query;
  body?: unknown;
  /**
   * The request can be repeated without changing its outcome (the API makes
   * it so: client-supplied ids and secrets, idempotent deletes). It is then
   * retried when no answer arrived or the controller was unavailable.
   */
  idempotent?: boolean;
  /** Longer than the client's default for a request the API may hold open (e.g. waiting for a command). */
  timeoutMs?: number;
}

/** Errno codes that mean "nothing answered at that address". */
const UNREACHABLE: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed',
};

/** The errno behind a fetch failure: undici wraps it in `cause`, and in an AggregateError when several addresses were tried. */
function errnoOf(err: unknown, depth = 0): string | undefined {
  if (!err || typeof err !== 'object' || depth > 5) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  if (err instanceof AggregateError) {
    for (const inner of err.errors) {
      const found = errnoOf(inner, depth + 1);
      if (found) return found;
    }
  }
  return errnoOf((err as { cause?: unknown }).cause, depth + 1);
}

/** fetch says only "fetch failed"; the reason ("bad port", …) is in the innermost cause. */
function innermostMessage(err: unknown): string {
  let message = err instanceof Error ? err.message : String(err);
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) if (e.message) message = e.message;
  return message;
}

/** OpenSSL's codes for a server certificate the client does not trust. */
const UNTRUSTED_CERTIFICATE = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const seg = encodeURIComponent;

const RETRY_ATTEMPTS = 3;
/** Failures after which the request may or may not have been applied: only idempotent ones are repeated. */
const RETRYABLE = new Set(['API_UNREACHABLE', 'API_TIMEOUT', 'HTTP_502', 'HTTP_504', 'UNAVAILABLE']);

/** A small typed client over fetch for the Outpost HTTP API (bearer auth, JSON, zod-checked answers). */
export class ApiClient {
  readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof globalThis.fetch;
  private readonly retryDelayMs: number;

  constructor(options: ApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.fetchImpl = options.fetch ?? globalThis.fetch;
    this.retryDelayMs = options.retryDelayMs ?? 1000;
  }

  /**
   * One request; answers outside 2xx become ApiClientError with the API's
   * code and message. An idempotent request is retried (3 attempts in all)
   * when nothing answered or the answer was 502/503/504: the controller may
   * have restarted between storing the change and answering.
   */
  async request<S extends z.ZodType>(method: string, path: string, schema: S, options: RequestOptions = {}): Promise<{ status: number; body: z.infer<S> }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.requestOnce(method, path, schema, options);
      } catch (err) {
        const retry = options.idempotent === true && attempt < RETRY_ATTEMPTS && err instanceof ApiClientError && RETRYABLE.has(err.code);
        if (!retry) throw err;
        await new Promise((r) => setTimeout(r, this.retryDelayMs * attempt));
      }
    }
  }

  private async requestOnce<S extends z.ZodType>(method: string, path: string, schema: S, options: RequestOptions): Promise<{ status: number; body: z.infer<S> }> {
    const url = new URL(`${this.baseUrl}${path}`);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    let text: string;
    try {
      response = await this.fetchImpl(url, {
        method,
        headers,
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        signal: AbortSignal.timeout(Math.max(this.timeoutMs, options.timeoutMs ?? 0)),
      });
      text = await response.text();
    } catch (err) {
      throw this.transportError(err);
    }
    if (!response.ok) throw this.httpError(response, text);
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch (err) {
      throw new ApiClientError('API_RESPONSE_INVALID', response.status, `${this.baseUrl} answered ${method} ${path} with something that is not JSON; is --api the Outpost API?`, { cause: err });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue ? `${issue.path.map(String).join('.') || 'body'}: ${issue.message}` : 'unexpected shape';
      throw new ApiClientError('API_RESPONSE_INVALID', response.status, `unexpected answer to ${method} ${path} (${where}); are the CLI and the API the same version?`, { cause: parsed.error });
    }
    return { status: response.status, body: parsed.data };
  }

  private transportError(err: unknown): ApiClientError {
    if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
      return new ApiClientError('API_TIMEOUT', 0, `the Outpost API at ${this.baseUrl} did not answer within ${Math.round(this.timeoutMs / 1000)}s`, { cause: err });
    }
    const errno = errnoOf(err);
    if (errno !== undefined && UNTRUSTED_CERTIFICATE.has(errno)) {
      return new ApiClientError('API_CERT_UNTRUSTED', 0, `the Outpost API at ${this.baseUrl} presented a certificate this client does not trust (${errno}): give the CA that signed it with --ca or OUTPOST_CA`, { cause: err });
    }
    const reason = errno ? (UNREACHABLE[errno] ?? errno) : innermostMessage(err);
    return new ApiClientError('API_UNREACHABLE', 0, `cannot reach the Outpost API at ${this.baseUrl} (${reason}): is \`outpost up\` running? set --api or OUTPOST_API`, { cause: err });
  }

  private httpError(response: Response, text: string): ApiClientError {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const parsed = ApiErrorBody.safeParse(json);
    if (parsed.success) {
      const { code, message, details } = parsed.data.error;
      return new ApiClientError(code, response.status, message, { details });
    }
    const snippet = text.trim().slice(0, 200);
    return new ApiClientError(`HTTP_${response.status}`, response.status, `${this.baseUrl} answered ${response.status} ${response.statusText}${snippet ? `: ${snippet}` : ''}`);
  }

  // ---- devices --------------------------------------------------------------

  /** With a client secret the API makes a repeat idempotent, so it is retried. */
  async addDevice(input: { id: string; labels?: Record<string, string>; secret?: string }) {
    const answer = z.looseObject({ device: DeviceBody, secret: z.string(), created: z.boolean().optional(), delivery: DeliveryBody.optional() });
    return (await this.request('POST', '/v1/devices', answer, { body: input, idempotent: input.secret !== undefined })).body;
  }

  async rotateSecret(id: string, input: { secret?: string }) {
    const answer = z.looseObject({ deviceId: z.string(), secret: z.string(), brokersNotified: z.number() });
    return (await this.request('POST', `/v1/devices/${seg(id)}/secret`, answer, { body: input, idempotent: input.secret !== undefined })).body;
  }

  async listDevices(selector?: string) {
    return (await this.request('GET', '/v1/devices', z.looseObject({ devices: z.array(DeviceSummaryBody) }), { query: { selector } })).body;
  }

  async getDevice(id: string) {
    return (await this.request('GET', `/v1/devices/${seg(id)}`, DeviceDetailBody)).body;
  }

  async updateLabels(id: string, patch: { set?: Record<string, string>; remove?: string[] }) {
    return (await this.request('PATCH', `/v1/devices/${seg(id)}/labels`, DeviceChangeBody, { body: patch, idempotent: true })).body;
  }

  /** Decommission; `wipe` waits (bounded) for the device to remove its workloads first. */
  async removeDevice(id: string, opts: { wipe?: boolean; wipeTimeoutSeconds?: number } = {}) {
    const query = { ...(opts.wipe ? { wipe: 'true' } : {}), ...(opts.wipeTimeoutSeconds !== undefined ? { wipeTimeoutSeconds: opts.wipeTimeoutSeconds } : {}) };
    const timeoutMs = opts.wipe ? ((opts.wipeTimeoutSeconds ?? 120) + 60) * 1000 : undefined;
    const { status, body } = await this.request('DELETE', `/v1/devices/${seg(id)}`, z.looseObject({ decommission: DecommissionBody }), {
      query,
      idempotent: true,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    });
    return { ...body, status };
  }

  async setOverrides(id: string, patch: { env?: Record<string, string | null>; workloadEnv?: Record<string, Record<string, string | null>> }) {
    return (await this.request('PATCH', `/v1/devices/${seg(id)}/overrides`, DeviceChangeBody, { body: patch, idempotent: true })).body;
  }

  async pin(id: string, app: string, version: string) {
    return (await this.request('PUT', `/v1/devices/${seg(id)}/pins/${seg(app)}`, DeviceChangeBody, { body: { version }, idempotent: true })).body;
  }

  async unpin(id: string, app: string) {
    return (await this.request('DELETE', `/v1/devices/${seg(id)}/pins/${seg(app)}`, DeviceChangeBody, { idempotent: true })).body;
  }

  async desiredOf(id: string) {
    return (await this.request('GET', `/v1/devices/${seg(id)}/desired`, z.looseObject({ desired: DesiredBody.nullable() }))).body;
  }

  async eventsOf(id: string, limit?: number) {
    return (await this.request('GET', `/v1/devices/${seg(id)}/events`, z.looseObject({ events: z.array(DeviceEventBody) }), { query: { limit } })).body;
  }

  // ---- commands and telemetry -------------------------------------------------

  /** `answered` is false for 202: queued (device offline or no answer within waitSeconds). */
  async sendCommand(id: string, input: { type: string; workload?: string; tail?: number; ttlSeconds?: number; waitSeconds?: number }) {
    const timeoutMs = ((input.waitSeconds ?? 10) + 15) * 1000;
    const { status, body } = await this.request('POST', `/v1/devices/${seg(id)}/commands`, CommandViewBody, { body: input, timeoutMs });
    return { view: body, answered: status === 200 };
  }

  async getCommand(id: string, commandId: string) {
    return (await this.request('GET', `/v1/devices/${seg(id)}/commands/${seg(commandId)}`, CommandViewBody)).body;
  }

  async telemetryOf(id: string) {
    return (await this.request('GET', `/v1/devices/${seg(id)}/telemetry`, z.looseObject({ telemetry: TelemetryBody.nullable() }))).body;
  }

  // ---- releases -------------------------------------------------------------

  /** `created` is false when the same content already existed (200 instead of 201). */
  async createRelease(input: ReleaseInput) {
    const { status, body } = await this.request('POST', '/v1/releases', z.looseObject({ release: ReleaseBody }), { body: input });
    return { ...body, created: status === 201 };
  }

  async listReleases(app?: string) {
    return (await this.request('GET', '/v1/releases', z.looseObject({ releases: z.array(ReleaseBody) }), { query: { app } })).body;
  }

  async getRelease(app: string, version: string) {
    return (await this.request('GET', `/v1/releases/${seg(app)}/${seg(version)}`, z.looseObject({ release: ReleaseBody }))).body;
  }

  // ---- deployments ----------------------------------------------------------

  /** With a client-supplied id the API makes a repeat idempotent, so it is retried. */
  async createDeployment(input: DeploymentInput) {
    const answer = z.looseObject({ deployment: DeploymentDetailBody, published: PublishedBody, created: z.boolean().optional(), delivery: DeliveryBody.optional() });
    return (await this.request('POST', '/v1/deployments', answer, { body: input, idempotent: input.id !== undefined })).body;
  }

  async listDeployments() {
    return (await this.request('GET', '/v1/deployments', z.looseObject({ deployments: z.array(DeploymentBody) }))).body;
  }

  async getDeployment(id: string) {
    return (await this.request('GET', `/v1/deployments/${seg(id)}`, DeploymentDetailBody)).body;
  }

  async removeDeployment(id: string) {
    const answer = z.looseObject({ published: PublishedBody, alreadyRemoved: z.boolean().optional(), delivery: DeliveryBody.optional() });
    return (await this.request('DELETE', `/v1/deployments/${seg(id)}`, answer, { idempotent: true })).body;
  }

  // ---- fleet ----------------------------------------------------------------

  async fleet() {
    return (await this.request('GET', '/v1/fleet', FleetSummaryBody)).body;
  }
}
