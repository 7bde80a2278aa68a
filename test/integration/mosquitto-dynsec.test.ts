import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { Redis } from 'ioredis';
import { isBrokerAdminError } from '../../controller/broker-admin/broker-admin-error.js';
import { deviceAcls } from '../../controller/broker-admin/dynsec-acl.js';
import { DynsecClient } from '../../controller/broker-admin/dynsec-client.js';
import { DynsecBrokerCredentials } from '../../controller/broker-admin/dynsec-credentials.js';
import { DynsecClientList } from '../../controller/broker-admin/dynsec-schemas.js';
import { executeDynsecSteps } from '../../controller/broker-admin/dynsec-steps.js';
import { DeviceStore } from '../../controller/registry/device-store.js';
import { Keys } from '../../controller/registry/keys.js';
import { credentialRecord } from '../../shared/device-credentials.js';
import { Failpoints, FailpointError } from '../../shared/failpoints.js';
import { silentLogger } from '../../shared/logger.js';
import { Topics } from '../../shared/topics.js';
import { brokerAdminFor } from '../helpers/brokers.js';
import { startControlPlane, type ControlPlaneRig } from '../helpers/control-plane.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/wait-for.js';

/** The SUBACK return code for one filter (MQTT.js rejects a refused one). */
async function grantedQos(client: MqttClient, filter: string): Promise<number | undefined> {
  try {
    return (await client.subscribeAsync(filter, { qos: 1 }))[0]?.qos;
  } catch (err) {
    return (err as { packet?: { granted?: number[] } }).packet?.granted?.[0];
  }
}

/**
 * DD-030 on a real Mosquitto 2.0 with its dynamic-security plugin: the
 * controller (--broker-admin mosquitto-dynsec) creates, changes and deletes
 * device clients and roles, devices get exactly the topics of protocol §5,
 * and what a crash or an outage left undone is repaired.
 */
describe('Mosquitto with Outpost-managed credentials (dynamic security)', () => {
  const topics = new Topics();
  const failpoints = new Failpoints();
  let rig: ControlPlaneRig;
  let redis: Redis;
  let admin: DynsecClient;
  let observer: MqttClient;
  const seen: { topic: string; payload: string }[] = [];
  const open: MqttClient[] = [];

  const connectDevice = async (id: string, password: string, opts: { clientId?: string; clean?: boolean } = {}): Promise<MqttClient> => {
    const c = await mqtt.connectAsync(rig.brokerUrl, { clientId: opts.clientId ?? id, username: id, password, clean: opts.clean ?? false, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000 });
    open.push(c);
    return c;
  };
  const refused = (id: string, password: string, clientId?: string) =>
    expect(connectDevice(id, password, clientId === undefined ? {} : { clientId })).rejects.toThrow(/Not authorized|Bad user name or password/i);
  const managedClients = async (): Promise<string[]> => {
    const r = await admin.one({ command: 'listClients', verbose: true, count: 1000, offset: 0 });
    return DynsecClientList.parse(r.data).clients.filter((c) => c.roles.some((x) => x.rolename === `outpost-device:${c.username}`)).map((c) => c.username).sort();
  };

  beforeAll(async () => {
    rig = await startControlPlane({ brokerKind: 'mosquitto-dynsec', controller: { brokerAdminRepairIntervalSeconds: 0, brokerWaitSeconds: 20 }, deps: { failpoints } });
    const settings = brokerAdminFor(rig.brokerUrl);
    if (!settings) throw new Error('no admin settings');
    admin = new DynsecClient({ brokerUrl: rig.brokerUrl, username: settings.brokerAdminUsername, password: settings.brokerAdminPassword, clientId: 'svc:test-admin', timeoutMs: 5000 }, silentLogger());
    await admin.start();
    redis = new Redis(rig.redis.url);
    observer = await mqtt.connectAsync(rig.brokerUrl, { ...rig.serviceAuth, clientId: 'svc:test-observer', clean: true, protocolVersion: 4 });
    observer.on('message', (topic, payload) => seen.push({ topic, payload: payload.toString('utf8') }));
    await observer.subscribeAsync(`${topics.prefix}/devices/+/+`, { qos: 1 });
  });

  afterAll(async () => {
    for (const c of open) await c.endAsync(true).catch(() => undefined);
    await observer?.endAsync(true);
    await admin?.close();
    redis?.disconnect();
    await rig?.close();
  });

  it('the controller created its service identity and every enrolled device can only use its own exact topics', async () => {
    const cp = rig.controller.controlPlane;
    const { secret } = await cp.addDevice({ id: 'dyn-a' });
    const other = await cp.addDevice({ id: 'dyn-b' });
    expect(await managedClients()).toEqual(['dyn-a', 'dyn-b']);
    // The plaintext secret lived in Redis only until Mosquitto had it.
    expect(await redis.exists('outpost:broker-secret:dyn-a', 'outpost:broker-secret:dyn-b')).toBe(0);
    expect(await redis.scard('outpost:broker-secrets')).toBe(0);

    const a = await connectDevice('dyn-a', secret);
    const granted = await a.subscribeAsync([topics.desired('dyn-a')], { qos: 1 });
    expect(granted[0]?.qos).toBe(1);
    // The controller's document arrives.
    await cp.createRelease({ app: 'web', version: '1', workloads: { web: { image: 'busybox:1' } } });
    const got = new Promise<string>((resolve) => a.on('message', (t, p) => t === topics.desired('dyn-a') && p.length > 0 && resolve(p.toString('utf8'))));
    await cp.createDeployment({ app: 'web', version: '1', target: { kind: 'devices', devices: ['dyn-a'] } });
    expect(JSON.parse(await got)).toMatchObject({ deviceId: 'dyn-a', version: 1 });

    // Forbidden subscriptions: another device's topic, a wildcard, its own reported, $SYS — each refused (0x80).
    for (const filter of [topics.desired('dyn-b'), `${topics.prefix}/devices/+/desired`, `${topics.prefix}/#`, topics.reported('dyn-a'), '$SYS/#']) {
      expect(await grantedQos(a, filter), filter).toBe(128);
    }
    // Own publishes arrive; another device's topics and its own desired do not.
    await a.publishAsync(topics.reported('dyn-a'), 'own-report', { qos: 1 });
    await a.publishAsync(topics.reported('dyn-b'), 'forged-report', { qos: 1 }).catch(() => undefined);
    await a.publishAsync(topics.desired('dyn-a'), 'self-desired', { qos: 1 }).catch(() => undefined);
    await a.publishAsync(topics.commands('dyn-b'), 'forged-command', { qos: 1 }).catch(() => undefined);
    await waitFor(() => seen.find((m) => m.payload === 'own-report'), { timeoutMs: 5000, description: 'own report' });
    await a.publishAsync(topics.events('dyn-a'), 'marker', { qos: 1 });
    await waitFor(() => seen.find((m) => m.payload === 'marker'), { timeoutMs: 5000, description: 'marker after the forged ones' });
    expect(seen.map((m) => m.payload)).not.toContain('forged-report');
    expect(seen.map((m) => m.payload)).not.toContain('self-desired');
    expect(seen.map((m) => m.payload)).not.toContain('forged-command');

    // The client id is bound to the identity: no one can take another device's session.
    await refused('dyn-a', secret, 'dyn-b');
    await refused('dyn-b', secret);
    await (await connectDevice('dyn-b', other.secret)).endAsync();
  });

  it('rotation ends the session on the old secret, refuses it, and the new one works', async () => {
    const cp = rig.controller.controlPlane;
    const { secret: old } = await cp.addDevice({ id: 'dyn-rot' });
    const live = await connectDevice('dyn-rot', old);
    const closed = new Promise<void>((r) => live.once('close', () => r()));
    const rotated = await cp.rotateSecret('dyn-rot');
    expect(rotated.brokersNotified).toBe(1);
    await closed;
    await refused('dyn-rot', old);
    await (await connectDevice('dyn-rot', rotated.secret)).endAsync();
    expect(await redis.exists('outpost:broker-secret:dyn-rot')).toBe(0);
  });

  it('decommission deletes the client and its role: the device is refused', async () => {
    const cp = rig.controller.controlPlane;
    const { secret } = await cp.addDevice({ id: 'dyn-gone' });
    await (await connectDevice('dyn-gone', secret)).endAsync();
    const record = await cp.removeDevice('dyn-gone');
    expect(record.state).toBe('done');
    await refused('dyn-gone', secret);
    expect(await managedClients()).not.toContain('dyn-gone');
    const roles = await admin.one({ command: 'listRoles', verbose: false, count: 1000, offset: 0 });
    expect(JSON.stringify(roles.data)).not.toContain('outpost-device:dyn-gone');
  });

  it('a crash between the registry write and the dynsec command is repaired by the next controller', async () => {
    // What a controller killed right after the enrolment script leaves: the records and the pending secret, no client.
    const store = new DeviceStore(redis, new Keys('outpost:'), Date.now);
    const secret = 'crash-secret-0123456789-abcdefghijklmnop';
    await store.enrol('dyn-crash', {}, credentialRecord(secret), { pendingSecret: secret });
    await refused('dyn-crash', secret);
    expect(await redis.get('outpost:broker-secret:dyn-crash')).toBe(secret);
    // The next controller's repair pass (at every admin connect) creates the client.
    await rig.restartController();
    await waitFor(async () => (await managedClients()).includes('dyn-crash'), { timeoutMs: 10_000, description: 'client created by the repair pass' });
    await (await connectDevice('dyn-crash', secret)).endAsync();
    expect(await redis.exists('outpost:broker-secret:dyn-crash')).toBe(0);
  });

  it('an enrolment interrupted after its write (failpoint) is applied by the repair pass', async () => {
    const cp = rig.controller.controlPlane;
    const secret = 'failpoint-secret-0123456789-abcdefghij';
    failpoints.set('device.add:after-write', 'throw');
    try {
      await expect(cp.addDevice({ id: 'dyn-fp', secret })).rejects.toBeInstanceOf(FailpointError);
    } finally {
      failpoints.set('device.add:after-write', null);
    }
    await refused('dyn-fp', secret);
    const credentials = rig.controller.brokerCredentials;
    if (!(credentials instanceof DynsecBrokerCredentials)) throw new Error('not in mosquitto-dynsec mode');
    expect(await credentials.repair()).toEqual({ steps: 1, failed: 0 });
    await (await connectDevice('dyn-fp', secret)).endAsync();
  });

  it('a device role made by a controller older than the clock topic (DD-052) gets its missing rules from the repair pass', async () => {
    const cp = rig.controller.controlPlane;
    const { secret } = await cp.addDevice({ id: 'dyn-old' });
    // What a controller from before DD-052 made: the device role without the clock topic's rules.
    for (const acl of deviceAcls(topics, 'dyn-old').filter((a) => a.topic === topics.clock('dyn-old'))) {
      await admin.one({ command: 'removeRoleACL', rolename: 'outpost-device:dyn-old', acltype: acl.acltype, topic: acl.topic });
    }
    const before = await connectDevice('dyn-old', secret, { clean: true });
    expect(await grantedQos(before, topics.clock('dyn-old'))).toBe(128);
    expect(await grantedQos(before, topics.desired('dyn-old'))).toBe(1);
    await before.endAsync();

    const credentials = rig.controller.brokerCredentials;
    if (!(credentials instanceof DynsecBrokerCredentials)) throw new Error('not in mosquitto-dynsec mode');
    expect((await credentials.repair()).failed).toBe(0);
    const after = await connectDevice('dyn-old', secret, { clean: true });
    expect(await grantedQos(after, topics.clock('dyn-old'))).toBe(1);
    // Still its own topics only.
    expect(await grantedQos(after, topics.clock('dyn-a'))).toBe(128);
    await after.endAsync();
  });

  it('with Mosquitto down, a rotation is stored and applied once it is back; a stray client is deleted', async () => {
    const cp = rig.controller.controlPlane;
    const { secret: old } = await cp.addDevice({ id: 'dyn-outage' });
    // A client Outpost manages that the registry does not know (its delete was lost).
    await executeDynsecSteps(admin, topics, [{ kind: 'create', deviceId: 'dyn-stray', secret: 'stray-secret-0123456789-abcdefghijklm' }]);
    expect(await managedClients()).toContain('dyn-stray');

    await rig.stopBroker?.();
    const rotated = await cp.rotateSecret('dyn-outage');
    expect(rotated.brokersNotified).toBe(0);
    expect(await redis.get('outpost:broker-secret:dyn-outage')).toBe(rotated.secret);
    await rig.restartBroker();
    await waitFor(async () => (await redis.exists('outpost:broker-secret:dyn-outage')) === 0, { timeoutMs: 20_000, description: 'pending secret applied' });
    await waitFor(async () => !(await managedClients().catch(() => ['dyn-stray'])).includes('dyn-stray'), { timeoutMs: 20_000, description: 'stray client deleted' });
    await refused('dyn-outage', old);
    await (await connectDevice('dyn-outage', rotated.secret)).endAsync();
  });

  it('an unanswered command fails with BROKER_ADMIN_TIMEOUT', async () => {
    const plain = await startMosquitto();
    const c = new DynsecClient({ brokerUrl: plain.url, username: 'x', password: 'y', clientId: 'svc:test-timeout', timeoutMs: 300 }, silentLogger());
    try {
      await c.start();
      const err = await c.one({ command: 'listRoles', verbose: false }).catch((e: unknown) => e);
      expect(isBrokerAdminError(err) && err.code).toBe('BROKER_ADMIN_TIMEOUT');
    } finally {
      await c.close();
      await plain.stop();
    }
    const offline = new DynsecClient({ brokerUrl: 'mqtt://127.0.0.1:1', username: 'x', password: 'y', clientId: 'svc:test-offline', timeoutMs: 300 }, silentLogger());
    const err = await offline.one({ command: 'listRoles', verbose: false }).catch((e: unknown) => e);
    expect(isBrokerAdminError(err) && err.code).toBe('BROKER_ADMIN_UNAVAILABLE');
  });
});
