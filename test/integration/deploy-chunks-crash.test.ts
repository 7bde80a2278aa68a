import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keys } from '../../controller/registry/keys.js';
import { newSecret } from '../../shared/device-credentials.js';
import { Failpoints, FailpointError } from '../../shared/failpoints.js';
import { startBrokerRig, type BrokerRig } from '../helpers/controller-process.js';
import { startInProcessControlPlane } from '../helpers/controller-in-process.js';
import { watchDesired, type DesiredWatch } from '../helpers/desired-watch.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Lets the first chunk through, then fails every later store and publish
 * (the drain's retries too): a controller that dies between chunks.
 */
class FailAfterFirstChunk extends Failpoints {
  stores = 0;
  private publishes = 0;
  override async hit(name: string): Promise<void> {
    if (name === 'publish:after-store' && ++this.stores > 1) throw new FailpointError(name);
    if (name === 'publish:after-publish' && ++this.publishes > 1) throw new FailpointError(name);
  }
}

/** A deploy written in chunks (DD-033) converges after its controller died between chunks. */
describe('deploy chunks and a crash between them', () => {
  let rig: BrokerRig;
  let redis: Redis;
  let watch: DesiredWatch;
  beforeAll(async () => {
    rig = await startBrokerRig();
    redis = new Redis(rig.redis.url);
    watch = await watchDesired(rig.brokerUrl, rig.serviceAuth);
  });
  afterAll(async () => {
    await watch?.close();
    redis?.disconnect();
    await rig?.close();
  });

  it('stored-but-unpublished and never-composed chunks are finished by the next controller, each device at its first version', async () => {
    const keys = new Keys('outpost:');
    const ids = Array.from({ length: 7 }, (_, i) => `chunk-dev-${i}`);
    const failpoints = new FailAfterFirstChunk();
    const first = await startInProcessControlPlane(rig, { controller: { publishBatchSize: 2 }, deps: { failpoints } });
    try {
      for (const id of ids) await first.client.addDevice({ id, labels: { role: 'chunk' }, secret: newSecret() });
      await first.client.createRelease({ app: 'chunk', version: '1', workloads: { main: { image: 'busybox:1' } } });
      const answer = await first.client.createDeployment({ id: 'dep-chunk', app: 'chunk', version: '1', target: { kind: 'selector', selector: 'role=chunk' } });
      expect(answer.delivery?.state).toBe('pending');
      expect(failpoints.stores).toBeGreaterThan(1);
      // Some devices were published, some stored only, maybe some not composed; the scope stays dirty.
      const versions = await Promise.all(ids.map((id) => redis.hmget(keys.desired(id), 'version', 'published')));
      expect(versions.filter(([, p]) => p === '1').length).toBeGreaterThanOrEqual(2);
      expect(versions.filter(([, p]) => p === '1').length).toBeLessThan(ids.length);
      expect(await redis.zcard(keys.dirty())).toBeGreaterThan(0);
    } finally {
      await first.close();
    }

    const second = await startInProcessControlPlane(rig, { controller: { publishBatchSize: 2 } });
    try {
      await waitFor(async () => (await redis.scard(keys.unpublished())) === 0 && (await redis.zcard(keys.dirty())) === 0, { timeoutMs: 20_000, description: 'backlog drained' });
      for (const id of ids) {
        expect(await redis.hmget(keys.desired(id), 'version', 'published')).toEqual(['1', '1']);
        await watch.waitForDoc(id, (d) => d.doc.version === 1 && d.doc.workloads['chunk-main']?.image === 'busybox:1', `${id} v1 retained`);
      }
    } finally {
      await second.close();
    }
  });
});
