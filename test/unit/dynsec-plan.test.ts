import { describe, expect, it } from 'vitest';
import { DEVICE_PUBLISH_CHANNELS as BROKER_PUBLISH, DEVICE_RECEIVE_CHANNELS as BROKER_RECEIVE } from '../../broker/auth/access-policy.js';
import { BROKER_ADMIN_ERRORS } from '../../controller/broker-admin/broker-admin-error.js';
import { DEVICE_PUBLISH_CHANNELS, DEVICE_RECEIVE_CHANNELS, deviceAcls, serviceAcls } from '../../controller/broker-admin/dynsec-acl.js';
import { commandsFor } from '../../controller/broker-admin/dynsec-steps.js';
import { aclKey, isManagedClient, planDynsecRepair, type DynsecObserved, type DynsecStep, type RegistryCredentials } from '../../controller/broker-admin/plan-dynsec-repair.js';
import { parseControllerConfig } from '../../controller/config.js';
import { Topics } from '../../shared/topics.js';

const topics = new Topics();
const dev = (id: string) => ({ username: id, roles: [`outpost-device:${id}`] });
const registry = (entitled: string[], pending: Record<string, string> = {}): RegistryCredentials => ({ entitled: new Set(entitled), pending: new Map(Object.entries(pending)) });

describe('dynamic-security repair planner (DD-030)', () => {
  const cases: [string, DynsecObserved, RegistryCredentials, DynsecStep[]][] = [
    ['in step: nothing to do', { clients: [dev('a')], roles: ['outpost-device:a'] }, registry(['a']), []],
    ['enrolled, no client, secret pending → create with it', { clients: [], roles: [] }, registry(['a'], { a: 's1' }), [{ kind: 'create', deviceId: 'a', secret: 's1' }]],
    ['enrolled, no client, secret gone → create without password', { clients: [], roles: [] }, registry(['a']), [{ kind: 'create', deviceId: 'a', secret: null }]],
    ['rotated, not applied → set the password', { clients: [dev('a')], roles: ['outpost-device:a'] }, registry(['a'], { a: 's2' }), [{ kind: 'set-password', deviceId: 'a', secret: 's2' }]],
    ['revoked, client left → delete it', { clients: [dev('a')], roles: ['outpost-device:a'] }, registry([]), [{ kind: 'delete', deviceId: 'a' }]],
    ['orphan device role → delete it', { clients: [], roles: ['outpost-device:a'] }, registry([]), [{ kind: 'delete-role', deviceId: 'a' }]],
    ['pending secret of a device that is gone → discard', { clients: [], roles: [] }, registry([], { a: 's' }), [{ kind: 'discard-pending', deviceId: 'a' }]],
    [
      'clients that are not Outpost devices are never touched',
      { clients: [{ username: 'outpost-admin', roles: ['admin'] }, { username: 'svc:outpost', roles: ['outpost-service'] }, { username: 'b', roles: ['ops'] }], roles: ['admin', 'outpost-service', 'ops'] },
      registry([]),
      [],
    ],
    ['a client named like a device without its role is adopted, not deleted', { clients: [{ username: 'a', roles: [] }], roles: [] }, registry(['a']), [{ kind: 'create', deviceId: 'a', secret: null }]],
  ];
  it.each(cases)('%s', (_name, observed, reg, steps) => {
    expect(planDynsecRepair(observed, reg)).toEqual(steps);
  });

  describe('role ACLs against the rules this controller grants (DD-060)', () => {
    const rules = (id: string) => deviceAcls(topics, id);
    const held = (id: string, keep: (topic: string) => boolean = () => true): [string, string[]] => [`outpost-device:${id}`, rules(id).filter((a) => keep(a.topic)).map(aclKey)];

    it('a role made before the clock topic (DD-052) gets the clock rules added, nothing else', () => {
      const observed: DynsecObserved = { clients: [dev('a'), dev('b')], roles: ['outpost-device:a', 'outpost-device:b'], roleAcls: new Map([held('a', (t) => t !== topics.clock('a')), held('b')]) };
      const steps = planDynsecRepair(observed, registry(['a', 'b']), rules);
      expect(steps).toEqual([{ kind: 'add-acls', deviceId: 'a', acls: rules('a').filter((x) => x.topic === topics.clock('a')) }]);
      expect((steps[0] as { acls: { acltype: string }[] }).acls.map((x) => x.acltype)).toEqual(['subscribeLiteral', 'publishClientReceive', 'unsubscribeLiteral']);
    });

    it('extra rules an operator added stay; an unlisted role, or no rules given, is not compared', () => {
      const extra: [string, string[]] = ['outpost-device:a', [...held('a')[1], aclKey({ acltype: 'publishClientSend', topic: 'site/a/debug', allow: true })]];
      expect(planDynsecRepair({ clients: [dev('a')], roles: ['outpost-device:a'], roleAcls: new Map([extra]) }, registry(['a']), rules)).toEqual([]);
      expect(planDynsecRepair({ clients: [dev('a')], roles: ['outpost-device:a'], roleAcls: new Map() }, registry(['a']), rules)).toEqual([]);
      expect(planDynsecRepair({ clients: [dev('a')], roles: ['outpost-device:a'], roleAcls: new Map([held('a', () => false)]) }, registry(['a']))).toEqual([]);
    });

    it('a client that is not entitled any more is deleted, not patched', () => {
      const observed: DynsecObserved = { clients: [dev('a')], roles: ['outpost-device:a'], roleAcls: new Map([held('a', () => false)]) };
      expect(planDynsecRepair(observed, registry([]), rules)).toEqual([{ kind: 'delete', deviceId: 'a' }]);
    });

    it('its commands add each missing rule; an existing one counts as done', () => {
      const acls = rules('a').slice(0, 2);
      expect(commandsFor({ kind: 'add-acls', deviceId: 'a', acls }, topics)).toEqual({
        commands: acls.map((x) => ({ command: 'addRoleACL', rolename: 'outpost-device:a', acltype: x.acltype, topic: x.topic, allow: true })),
        tolerate: ['ACL with this topic already exists'],
      });
    });
  });

  it('a managed client is a device id holding the role of its own name', () => {
    expect(isManagedClient(dev('pump-1'))).toBe(true);
    expect(isManagedClient({ username: 'pump-1', roles: ['outpost-device:pump-2'] })).toBe(false);
    expect(isManagedClient({ username: 'Pump-1', roles: ['outpost-device:Pump-1'] })).toBe(false);
  });
});

describe('dynamic-security roles follow the Outpost broker policy (protocol §5)', () => {
  it('uses the same channel lists as broker/auth/access-policy.ts', () => {
    expect(DEVICE_PUBLISH_CHANNELS).toEqual(BROKER_PUBLISH);
    expect(DEVICE_RECEIVE_CHANNELS).toEqual(BROKER_RECEIVE);
  });

  it('gives a device exact topics of its own only: no wildcard, no other device', () => {
    const acls = deviceAcls(topics, 'pump-17');
    expect(acls.every((a) => a.allow && !a.topic.includes('+') && !a.topic.includes('#'))).toBe(true);
    expect(acls.every((a) => topics.parseDevice(a.topic)?.deviceId === 'pump-17')).toBe(true);
    expect(acls.filter((a) => a.acltype === 'subscribeLiteral').map((a) => a.topic)).toEqual([topics.desired('pump-17'), topics.commands('pump-17'), topics.clock('pump-17')]);
    expect(acls.filter((a) => a.acltype === 'publishClientReceive').map((a) => a.topic)).toEqual([topics.desired('pump-17'), topics.commands('pump-17'), topics.clock('pump-17')]);
    expect(acls.filter((a) => a.acltype === 'publishClientSend').map((a) => topics.parseDevice(a.topic)?.channel)).toEqual(['reported', 'presence', 'events', 'telemetry']);
    expect(acls.some((a) => a.acltype === 'subscribePattern')).toBe(false);
  });

  it('gives the service identity everything below the prefix', () => {
    expect(serviceAcls(new Topics('fleet/v1')).map((a) => a.topic)).toEqual(['fleet/v1/#', 'fleet/v1/#', 'fleet/v1/#', 'fleet/v1/#']);
  });

  it('creates a device client bound to its id, with its role', () => {
    const { commands } = commandsFor({ kind: 'create', deviceId: 'pump-17', secret: 's' }, topics);
    expect(commands[1]).toMatchObject({ command: 'createClient', username: 'pump-17', clientid: 'pump-17', password: 's', roles: [{ rolename: 'outpost-device:pump-17' }] });
    expect(commandsFor({ kind: 'create', deviceId: 'pump-17', secret: null }, topics).commands[1]).not.toHaveProperty('password');
  });
});

describe('broker admin errors and configuration', () => {
  it('pins the error table', () => {
    expect(Object.fromEntries(Object.entries(BROKER_ADMIN_ERRORS).map(([k, v]) => [k, v.retryable]))).toEqual({
      BROKER_ADMIN_TIMEOUT: true,
      BROKER_ADMIN_UNAVAILABLE: true,
      BROKER_ADMIN_REFUSED: false,
      BROKER_ADMIN_BAD_RESPONSE: false,
    });
  });

  const base = { redisUrl: 'redis://127.0.0.1:6379', brokerUrl: 'mqtt://127.0.0.1:1883', servicePassword: 'x'.repeat(16), adminTokens: ['y'.repeat(16)] };
  it('defaults to Outpost-held credentials', () => {
    expect(parseControllerConfig(base).brokerAdmin).toBe('outpost');
  });
  it('mosquitto-dynsec needs the admin password, and an admin that is not the service identity', () => {
    expect(() => parseControllerConfig({ ...base, brokerAdmin: 'mosquitto-dynsec' })).toThrow(/brokerAdminPassword/);
    expect(() => parseControllerConfig({ ...base, brokerAdmin: 'mosquitto-dynsec', brokerAdminPassword: 'p', brokerAdminUsername: 'svc:outpost' })).toThrow(/brokerAdminUsername/);
    expect(parseControllerConfig({ ...base, brokerAdmin: 'mosquitto-dynsec', brokerAdminPassword: 'p' })).toMatchObject({ brokerAdminUsername: 'outpost-admin', brokerAdminTimeoutMs: 5000 });
  });
});
