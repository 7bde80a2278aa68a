import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseControllerConfig } from '../../controller/config.js';
import { AntiEntropy, type AntiEntropyResult } from '../../controller/desired-state/anti-entropy.js';
import { readRetained } from '../../controller/desired-state/retained-reader.js';
import { DeviceStore } from '../../controller/registry/device-store.js';
import { Keys } from '../../controller/registry/keys.js';
import { silentLogger } from '../../shared/logger.js';
import { Topics } from '../../shared/topics.js';
import { startControlPlane, type ControlPlaneRig } from '../helpers/control-plane.js';
import { TEST_IMAGE } from '../helpers/images.js';

/**
 * Anti-entropy costs what changed, not the fleet (issue 10, DD-031): with the
 * broker's retained marker intact a pass audits one slice of devices; a slice
 * cycle still finds a partial loss; a lost retained store, or a registry that
 * went back in time, makes a full pass that repairs every device.
 */
describe('anti-entropy in proportion to what changed', () => {
  const FLEET = 30;
  const BATCH = 10;
  const suffix = Math.random().toString(36).slice(2, 7);
  const ids = Array.from({ length: FLEET }, (_, i) => `ae-${suffix}-${String(i).padStart(2, '0')}`);
  const topics = new Topics();
  let rig: ControlPlaneRig;
  let service: MqttClient;
  let antiEntropy: AntiEntropy;

  const retainedVersion = async (id: string): Promise<number | null> => {
    const reader = await mqtt.connectAsync(rig.brokerUrl, { ...rig.serviceAuth, clientId: `svc:ae-read-${Math.random().toString(36).slice(2)}`, clean: true, reconnectPeriod: 0, protocolVersion: 4 });
    try {
      const payload = (await readRetained(reader, [topics.desired(id)], { settleMs: 300, maxWaitMs: 5_000 })).get(topics.desired(id));
      return payload ? (JSON.parse(payload.toString('utf8')) as { version: number }).version : null;
    } finally {
      await reader.endAsync();
    }
  };
  /** What a broker that lost (part of) its retained store looks like: the retained messages are gone. */
  const forget = (topic: string) => service.publishAsync(topic, '', { qos: 1, retain: true });

  beforeAll(async () => {
    rig = await startControlPlane();
    const cp = rig.controller.controlPlane;
    await cp.createRelease({ app: 'ae', version: '1', workloads: { main: { image: TEST_IMAGE } } });
    for (const id of ids) await cp.addDevice({ id, labels: { fleet: suffix } });
    await cp.createDeployment({ app: 'ae', version: '1', target: { kind: 'selector', selector: `fleet=${suffix}` } });
    service = await mqtt.connectAsync(rig.brokerUrl, { ...rig.serviceAuth, clientId: `svc:ae-${suffix}`, reconnectPeriod: 0, protocolVersion: 4 });
    const config = parseControllerConfig({ redisUrl: rig.redis.url, brokerUrl: rig.brokerUrl, servicePassword: rig.serviceAuth.password, adminTokens: [rig.adminToken] });
    const keys = new Keys(config.keyPrefix);
    antiEntropy = new AntiEntropy({
      redis: rig.controller.redis,
      keys,
      topics,
      devices: new DeviceStore(rig.controller.redis, keys, () => Date.now()),
      drain: rig.controller.drain,
      openReader: (options) => mqtt.connectAsync(rig.brokerUrl, { ...rig.serviceAuth, ...options, clientId: `svc:ae-pass-${Math.random().toString(36).slice(2)}`, protocolVersion: 4 }),
      logger: silentLogger(),
      settleMs: 300,
      auditBatch: BATCH,
    });
    // Every device has its document, and the marker is on the broker (the controller's start pass wrote it).
    expect(await antiEntropy.run()).toMatchObject({ scope: 'slice' });
    for (const id of ids) expect(await retainedVersion(id)).toBe(1);
  });

  afterAll(async () => {
    await service?.endAsync();
    await rig?.close();
  });

  it('with the broker intact a pass audits one slice, and a cycle of slices covers the fleet and finds a lost document', async () => {
    const lost = ids[17] as string;
    await forget(topics.desired(lost));
    const passes: AntiEntropyResult[] = [];
    // SSCAN may return a few more than asked; a cycle is at most FLEET / BATCH passes plus the wrap-around.
    for (let i = 0; i < FLEET / BATCH + 1 && !passes.some((p) => p.republished.includes(lost)); i++) passes.push(await antiEntropy.run());
    for (const pass of passes) {
      expect(pass.scope).toBe('slice');
      expect(pass.checked).toBeLessThanOrEqual(BATCH * 2);
      expect(pass.checked).toBeLessThan(FLEET);
    }
    expect(passes.flatMap((p) => p.republished)).toEqual([lost]);
    expect(await retainedVersion(lost)).toBe(1);
  });

  it('a broker that lost its retained store (marker gone) gets a full pass that republishes every device', async () => {
    await forget(topics.controllerMarker());
    for (const id of ids) await forget(topics.desired(id));
    const pass = await antiEntropy.run();
    expect(pass).toMatchObject({ scope: 'full', checked: FLEET, reason: expect.stringMatching(/holds no marker/) });
    expect([...pass.republished].sort()).toEqual(ids);
    for (const id of ids) expect(await retainedVersion(id)).toBe(1);
    // The marker is back: the next pass is a slice again.
    expect((await antiEntropy.run()).scope).toBe('slice');
  });

  it('a registry that went back in time (the broker saw a later generation) gets a full pass that lifts the versions past the broker', async () => {
    const ahead = ids[3] as string;
    const marker = (await readRetainedMarker()) as { token: string; generation: number };
    await service.publishAsync(topics.controllerMarker(), JSON.stringify({ ...marker, generation: marker.generation + 1_000 }), { qos: 1, retain: true });
    // A document the registry no longer knows of, as after a restore from an older backup.
    await service.publishAsync(topics.desired(ahead), JSON.stringify({ protocol: 1, deviceId: ahead, version: 50, workloads: {} }), { qos: 1, retain: true });
    const pass = await antiEntropy.run();
    expect(pass).toMatchObject({ scope: 'full', bumped: [ahead], reason: expect.stringMatching(/went back in time/) });
    expect(await retainedVersion(ahead)).toBeGreaterThan(50);
  });

  async function readRetainedMarker(): Promise<unknown> {
    const payload = (await readRetained(service, [topics.controllerMarker()], { settleMs: 300, maxWaitMs: 5_000 })).get(topics.controllerMarker());
    return payload ? JSON.parse(payload.toString('utf8')) : null;
  }
});
