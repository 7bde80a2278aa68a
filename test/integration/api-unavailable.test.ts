import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, freshId, startApi, type ApiRig } from '../helpers/api.js';
import { waitFor } from '../helpers/wait-for.js';

/** Redis down: the API answers 503 UNAVAILABLE (not a 500), and recovers when Redis is back. */
describe('HTTP API without Redis', () => {
  let api: ApiRig;

  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(async () => {
    await api?.close();
  });

  it('answers 503 UNAVAILABLE while Redis is down and works again after it restarts', async () => {
    const id = freshId('dev');
    expect((await api.call('POST', '/v1/devices', { id })).status).toBe(201);

    await api.rig.redis.kill9();
    const down = await api.call('GET', `/v1/devices/${id}`);
    expect(down.status, down.raw.body).toBe(503);
    expect(errorOf(down)).toEqual({ code: 'UNAVAILABLE', message: 'the controller cannot reach its Redis; retry later' });

    await api.rig.redis.restart();
    const back = await waitFor(
      async () => {
        const res = await api.call('GET', `/v1/devices/${id}`);
        return res.status === 200 ? res : null;
      },
      { timeoutMs: 15_000, description: 'API answers again after Redis restarted' },
    );
    expect((back.body as { id: string }).id).toBe(id);
  });
});
