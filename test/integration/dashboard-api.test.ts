import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../controller/http/build-api.js';
import * as S from '../../controller/http/schemas.js';
import { silentLogger } from '../../shared/logger.js';
import { Topics } from '../../shared/topics.js';
import { errorOf, freshId, startApi, type ApiRig } from '../helpers/api.js';
import { waitFor } from '../helpers/wait-for.js';

/** Reads a server-sent-events response block by block. */
function sseReader(body: ReadableStream<Uint8Array>): { events: { event: string; data: string }[]; done: Promise<void> } {
  const events: { event: string; data: string }[] = [];
  const done = (async () => {
    let buffer = '';
    for await (const chunk of body.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        if (event) events.push({ event, data: /^data: (.*)$/m.exec(block)?.[1] ?? '' });
      }
    }
  })().catch(() => undefined);
  return { events, done };
}

/**
 * The dashboard's server side (DD-042) on a real control plane: the static
 * page is public and locked down by CSP, the change stream needs a token,
 * says which devices changed (a desired document published, a message
 * ingested), ends by itself and when the API closes.
 */
describe('dashboard: static page and change stream', () => {
  let api: ApiRig;
  let url: string;

  beforeAll(async () => {
    api = await startApi();
    url = await api.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await api?.close();
  });

  it('serves /ui/ without a token, with a strict content security policy; / and /ui redirect there', async () => {
    const page = await api.call('GET', '/ui/', undefined, {});
    expect(page.status).toBe(200);
    expect(page.raw.headers['content-type']).toMatch(/^text\/html/);
    expect(page.raw.body).toContain('<script type="module" src="app.js">');
    expect(page.raw.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.raw.headers['content-security-policy']).toContain("connect-src 'self'");
    expect(page.raw.headers['x-frame-options']).toBe('DENY');
    const script = await api.call('GET', '/ui/app.js', undefined, {});
    expect(script.status).toBe(200);
    expect(script.raw.headers['content-type']).toMatch(/^text\/javascript/);
    expect((await api.call('GET', '/ui/style.css', undefined, {})).status).toBe(200);
    for (const path of ['/', '/ui']) {
      const res = await api.call('GET', path, undefined, {});
      expect(res.status).toBe(302);
      expect(res.raw.headers.location).toBe('/ui/');
    }
  });

  it('answers 404 ROUTE_NOT_FOUND for any other file under /ui/', async () => {
    for (const file of ['nope.js', '..%2Fpackage.json', 'index.html.bak']) {
      const res = await api.call('GET', `/ui/${file}`, undefined, {});
      expect(res.status, file).toBe(404);
      expect(errorOf(res).code).toBe('ROUTE_NOT_FOUND');
    }
  });

  it('refuses the change stream without a valid bearer token (401), and it is in the OpenAPI document', async () => {
    const res = await api.call('GET', '/v1/changes', undefined, {});
    expect(res.status).toBe(401);
    expect(errorOf(res).code).toBe('UNAUTHORIZED');
    const wrong = await api.call('GET', '/v1/changes', undefined, { authorization: 'Bearer nope' });
    expect(wrong.status).toBe(401);
    const doc = (await api.call('GET', '/openapi.json')).body as { paths: Record<string, { get?: { operationId?: string; 'x-outpost-access'?: string } }> };
    expect(doc.paths['/v1/changes']?.get).toMatchObject({ operationId: 'streamChanges', 'x-outpost-access': 'viewer' });
    expect(doc.paths['/ui/']).toBeUndefined();

    // The weakest role may watch: a viewer token opens the stream.
    const viewer = await api.call('POST', '/v1/tokens', { name: freshId('dash-viewer'), role: 'viewer' });
    expect(viewer.status, viewer.raw.body).toBe(201);
    const res2 = await fetch(`${url}/v1/changes`, { headers: { authorization: `Bearer ${(viewer.body as { secret: string }).secret}` } });
    expect(res2.status).toBe(200);
    await res2.body?.cancel();
  });

  it('streams which device changed: a published desired document, then a message from the device', async () => {
    const res = await fetch(`${url}/v1/changes`, { headers: { authorization: `Bearer ${api.token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const stream = sseReader(res.body!);
    await waitFor(() => stream.events.some((e) => e.event === 'hello'), { description: 'hello event' });

    const id = freshId('dash');
    const created = await api.call('POST', '/v1/devices', { id, labels: { role: 'dash' } });
    expect(created.status, created.raw.body).toBe(201);
    const app = freshId('app');
    expect((await api.call('POST', '/v1/releases', { app, version: '1', workloads: { main: { image: 'busybox:1' } } })).status).toBe(201);
    expect((await api.call('POST', '/v1/deployments', { app, version: '1', target: { kind: 'devices', devices: [id] } })).status).toBe(201);
    const changed = (): string[] => stream.events.filter((e) => e.event === 'change').flatMap((e) => (JSON.parse(e.data) as { devices: string[] }).devices);
    await waitFor(() => changed().includes(id), { description: `a change naming ${id} (desired published)` });
    const before = stream.events.length;

    const client = await mqtt.connectAsync(api.rig.brokerUrl, { clientId: id, username: id, password: S.CreatedDevice.parse(created.body).secret, reconnectPeriod: 0, protocolVersion: 4 });
    try {
      const presence = { protocol: 1, deviceId: id, status: 'online', epoch: Date.now(), at: new Date().toISOString() };
      await client.publishAsync(new Topics().presence(id), JSON.stringify(presence), { qos: 1, retain: true });
      await waitFor(() => stream.events.slice(before).some((e) => e.event === 'change' && (JSON.parse(e.data) as { devices: string[] }).devices.includes(id)), {
        description: `a change naming ${id} (presence ingested)`,
      });
    } finally {
      await client.endAsync();
    }
  });

  it('ends a stream after streamMaxSeconds (a revoked token is cut off), and every open stream when the API closes', async () => {
    const short = await buildApi(api.rig.controller.controlPlane, { adminTokens: [api.token], logger: silentLogger(), dashboard: { streamMaxSeconds: 1 } });
    try {
      const shortUrl = await short.listen({ host: '127.0.0.1', port: 0 });
      const res = await fetch(`${shortUrl}/v1/changes`, { headers: { authorization: `Bearer ${api.token}` } });
      const stream = sseReader(res.body!);
      let ended = false;
      void stream.done.then(() => {
        ended = true;
      });
      await waitFor(() => ended, { timeoutMs: 10_000, description: 'the stream ends by itself' });
      expect(stream.events.map((e) => e.event)).toContain('hello');

      const open = await fetch(`${shortUrl}/v1/changes`, { headers: { authorization: `Bearer ${api.token}` } });
      const second = sseReader(open.body!);
      await waitFor(() => second.events.length > 0, { description: 'second stream open' });
    } finally {
      // Would hang on the open stream without the preClose hook.
      await short.close();
    }
  });
});
