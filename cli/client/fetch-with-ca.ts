import { request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';

/** Statuses whose response has no body (the Response constructor refuses one). */
const NULL_BODY = new Set([101, 204, 205, 304]);

/**
 * A `fetch` for the API client that trusts `ca` (PEM) for https:// URLs, in
 * place of the system's CAs: an API with a certificate from the operator's
 * own CA (DD-023). Node 20's bundled fetch cannot be given a CA (its undici is
 * not importable), so this goes through node:https. It does what ApiClient
 * needs — method, headers, a string body, an abort signal — and answers with
 * a standard Response.
 */
export function fetchWithCa(ca: Buffer): typeof globalThis.fetch {
  const agent = new Agent({ ca, keepAlive: false });
  return (input, init = {}) => {
    if (typeof input !== 'string' && !(input instanceof URL)) return Promise.reject(new TypeError('fetchWithCa takes a URL, not a Request'));
    if (init.body !== undefined && init.body !== null && typeof init.body !== 'string') {
      return Promise.reject(new TypeError('fetchWithCa sends string bodies only'));
    }
    const url = new URL(input);
    const body = init.body ?? undefined;
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    return new Promise<Response>((resolve, reject) => {
      const onResponse = (res: IncomingMessage): void => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) responseHeaders.append(name, v);
          }
          resolve(new Response(NULL_BODY.has(status) ? null : Buffer.concat(chunks), { status, statusText: res.statusMessage ?? '', headers: responseHeaders }));
        });
      };
      const options = { method: init.method ?? 'GET', headers, ...(init.signal ? { signal: init.signal } : {}) };
      const req = url.protocol === 'https:' ? httpsRequest(url, { ...options, agent }, onResponse) : httpRequest(url, options, onResponse);
      req.on('error', (err) => {
        // An abort surfaces as an AbortError; a timeout signal's reason (TimeoutError) says more.
        const reason: unknown = init.signal?.aborted ? init.signal.reason : undefined;
        reject(reason instanceof Error ? reason : err);
      });
      req.end(body);
    });
  };
}
