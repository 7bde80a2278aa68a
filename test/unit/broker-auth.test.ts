import { describe, expect, it } from 'vitest';
import { AccessPolicy } from '../../broker/auth/access-policy.js';
import {
  CONNACK,
  createAuthenticate,
  createPreConnect,
  PendingWills,
  type ConnackError,
} from '../../broker/auth/authenticate.js';
import { ConnackLedger, createAuthorizeForward } from '../../broker/auth/authorize-forward.js';
import { createAuthorizePublish, type PublishLike } from '../../broker/auth/authorize-publish.js';
import { createAuthorizeSubscribe, type SubscriptionLike } from '../../broker/auth/authorize-subscribe.js';
import { IdentityRegistry, type ClientLike, type Identity } from '../../broker/auth/identity.js';
import { parseBrokerConfig } from '../../broker/config.js';
import { isOutpostError } from '../../shared/errors.js';
import { silentLogger } from '../../shared/logger.js';
import { Topics } from '../../shared/topics.js';

const topics = new Topics('outpost/v1');
const config = parseBrokerConfig({ redisUrl: 'redis://127.0.0.1:6379', maxPayloadBytes: 1000 });
const policy = new AccessPolicy(topics, config);
const logger = silentLogger();

const A = 'dev-a';
const B = 'dev-b';
const SERVICE = 'svc:outpost';
const SERVICE_PASSWORD = 'service-password-0123456789';

function setup() {
  const identities = new IdentityRegistry();
  const connacks = new ConnackLedger();
  const clientOf = (identity: Identity | null, id?: string): ClientLike => {
    const client = { id: id ?? (identity?.kind === 'device' ? identity.deviceId : 'svc:controller-1') };
    if (identity) identities.set(client, identity);
    connacks.markSent(client);
    return client;
  };
  return {
    identities,
    device: (deviceId: string) => clientOf({ kind: 'device', deviceId }),
    service: () => clientOf({ kind: 'service', username: SERVICE }),
    anonymous: () => clientOf(null, 'nobody'),
    publish: createAuthorizePublish({ policy, identities, logger }),
    subscribe: createAuthorizeSubscribe({ policy, identities, logger }),
    connacks,
    forward: createAuthorizeForward({ policy, identities, connacks, logger }),
  };
}

function publishResult(
  authorize: ReturnType<typeof setup>['publish'],
  client: ClientLike | null,
  packet: PublishLike,
): Error | null {
  let result: Error | null | undefined;
  authorize(client, packet, (err) => {
    result = err ?? null;
  });
  if (result === undefined) throw new Error('authorizePublish did not call back synchronously');
  return result;
}

function subscribeResult(
  authorize: ReturnType<typeof setup>['subscribe'],
  client: ClientLike,
  sub: SubscriptionLike,
): { err: Error | null; sub: SubscriptionLike | null | undefined } {
  let out: { err: Error | null; sub: SubscriptionLike | null | undefined } | undefined;
  authorize(client, sub, (err, granted) => {
    out = { err, sub: granted };
  });
  if (!out) throw new Error('authorizeSubscribe did not call back synchronously');
  return out;
}

const deep = `outpost/v1/${Array.from({ length: 20 }, (_, i) => `l${i}`).join('/')}`;
const long = `outpost/v1/${'x'.repeat(300)}`;
const nul = `outpost/v1/devices/${A}/reported\u0000`;

describe('authorizePublish', () => {
  const cases: Array<[string, 'device' | 'service' | 'anonymous', string, boolean]> = [
    ['device: own reported', 'device', topics.reported(A), true],
    ['device: own presence', 'device', topics.presence(A), true],
    ['device: own events', 'device', topics.events(A), true],
    ['device: own telemetry', 'device', topics.telemetry(A), true],
    ['device: own desired', 'device', topics.desired(A), false],
    ['device: own commands', 'device', topics.commands(A), false],
    ['device: other reported', 'device', topics.reported(B), false],
    ['device: other presence', 'device', topics.presence(B), false],
    ['device: other desired', 'device', topics.desired(B), false],
    ['device: rollout status', 'device', topics.rolloutStatus('r1'), false],
    ['device: own reported with extra level', 'device', `${topics.reported(A)}/x`, false],
    ['device: foreign prefix', 'device', `other/v1/devices/${A}/reported`, false],
    ['device: $SYS', 'device', '$SYS/broker/heartbeat', false],
    ['device: deep topic', 'device', deep, false],
    ['device: long topic', 'device', long, false],
    ['device: NUL in topic', 'device', nul, false],
    ['service: desired of any device', 'service', topics.desired(B), true],
    ['service: commands', 'service', topics.commands(A), true],
    ['service: reported (e.g. clearing a retained doc)', 'service', topics.reported(A), true],
    ['service: rollout status', 'service', topics.rolloutStatus('r1'), true],
    ['service: outside the prefix', 'service', 'elsewhere/topic', false],
    ['service: prefix look-alike', 'service', 'outpost/v10/devices/x/desired', false],
    ['service: $SYS', 'service', '$SYS/broker/heartbeat', false],
    ['service: deep topic', 'service', deep, false],
    ['service: long topic', 'service', long, false],
    ['service: NUL in topic', 'service', `outpost/v1/a\u0000b`, false],
    ['unauthenticated client: own-looking topic', 'anonymous', topics.reported('nobody'), false],
  ];

  it.each(cases)('%s', (_name, who, topic, allowed) => {
    const t = setup();
    const client = who === 'device' ? t.device(A) : who === 'service' ? t.service() : t.anonymous();
    const err = publishResult(t.publish, client, { topic, payload: Buffer.from('{}') });
    if (allowed) expect(err).toBeNull();
    else {
      expect(err).toBeInstanceOf(Error);
      expect(isOutpostError(err) && err.code).toBe(who === 'anonymous' ? 'AUTH_BAD_CREDENTIALS' : 'AUTH_FORBIDDEN_TOPIC');
    }
  });

  it('refuses payloads over maxPayloadBytes for devices and the service, counting UTF-8 bytes', () => {
    const t = setup();
    const ok = publishResult(t.publish, t.device(A), { topic: topics.reported(A), payload: Buffer.alloc(1000) });
    expect(ok).toBeNull();
    for (const client of [t.device(A), t.service()]) {
      const err = publishResult(t.publish, client, { topic: topics.reported(A), payload: Buffer.alloc(1001) });
      expect(isOutpostError(err) && err.code).toBe('PAYLOAD_TOO_LARGE');
    }
    // 500 two-byte characters: 500 chars, 1000 bytes; 501 of them: 1002 bytes.
    expect(publishResult(t.publish, t.service(), { topic: topics.desired(A), payload: 'é'.repeat(500) })).toBeNull();
    expect(publishResult(t.publish, t.service(), { topic: topics.desired(A), payload: 'é'.repeat(501) })).not.toBeNull();
  });

  describe('wills of clients no longer connected (client === null)', () => {
    const cases: Array<[string, string, boolean]> = [
      ['presence of any device', topics.presence(B), true],
      ['reported', topics.reported(B), false],
      ['desired', topics.desired(B), false],
      ['outside the prefix', 'some/where', false],
      ['$SYS', '$SYS/x', false],
      ['deep', deep, false],
    ];
    it.each(cases)('%s', (_name, topic, allowed) => {
      const t = setup();
      const err = publishResult(t.publish, null, { topic, payload: Buffer.from('offline') });
      expect(err === null).toBe(allowed);
    });
  });
});

describe('authorizeSubscribe', () => {
  const cases: Array<[string, 'device' | 'service', string, boolean]> = [
    ['device: own desired', 'device', topics.desired(A), true],
    ['device: own commands', 'device', topics.commands(A), true],
    ['device: own reported', 'device', topics.reported(A), false],
    ['device: own presence', 'device', topics.presence(A), false],
    ['device: other desired', 'device', topics.desired(B), false],
    ['device: other commands', 'device', topics.commands(B), false],
    ['device: + for the device id', 'device', topics.allDevices('desired'), false],
    ['device: own device #', 'device', `outpost/v1/devices/${A}/#`, false],
    ['device: own device +', 'device', `outpost/v1/devices/${A}/+`, false],
    ['device: prefix #', 'device', 'outpost/v1/#', false],
    ['device: #', 'device', '#', false],
    ['device: +/+/+/+/+', 'device', '+/+/+/+/+', false],
    ['device: $SYS/#', 'device', '$SYS/#', false],
    ['device: deep', 'device', deep, false],
    ['device: long', 'device', long, false],
    ['device: NUL', 'device', `${topics.desired(A)}\u0000`, false],
    ['service: every reported', 'service', topics.allDevices('reported'), true],
    ['service: prefix #', 'service', 'outpost/v1/#', true],
    ['service: one desired', 'service', topics.desired(B), true],
    ['service: #', 'service', '#', false],
    ['service: $SYS/#', 'service', '$SYS/#', false],
    ['service: outside the prefix', 'service', 'other/#', false],
    ['service: deep', 'service', `outpost/v1/${'+/'.repeat(20)}#`, false],
  ];

  it.each(cases)('%s', (_name, who, topic, allowed) => {
    const t = setup();
    const client = who === 'device' ? t.device(A) : t.service();
    const { err, sub } = subscribeResult(t.subscribe, client, { topic, qos: 1 });
    // Never an error: aedes would refuse the persistent session on every reconnect.
    expect(err).toBeNull();
    if (allowed) expect(sub).toEqual({ topic, qos: 1 });
    else expect(sub).toBeNull();
  });

  it('negates every filter for a client that never authenticated', () => {
    const t = setup();
    expect(subscribeResult(t.subscribe, t.anonymous(), { topic: topics.desired('nobody'), qos: 0 })).toEqual({
      err: null,
      sub: null,
    });
  });

  it('caps device QoS at 1 on the subscription object aedes persists; the service keeps QoS 2', () => {
    const t = setup();
    const deviceSub: SubscriptionLike = { topic: topics.desired(A), qos: 2 };
    expect(subscribeResult(t.subscribe, t.device(A), deviceSub).sub).toBe(deviceSub);
    expect(deviceSub.qos).toBe(1);
    const serviceSub: SubscriptionLike = { topic: topics.allDevices('reported'), qos: 2 };
    subscribeResult(t.subscribe, t.service(), serviceSub);
    expect(serviceSub.qos).toBe(2);
  });
});

describe('authorizeForward', () => {
  const cases: Array<[string, 'device' | 'service' | 'anonymous', string, boolean]> = [
    ['device: own desired', 'device', topics.desired(A), true],
    ['device: own commands', 'device', topics.commands(A), true],
    ['device: other desired (leaked subscription)', 'device', topics.desired(B), false],
    ['device: other commands', 'device', topics.commands(B), false],
    ['device: own reported', 'device', topics.reported(A), false],
    ['device: other presence', 'device', topics.presence(B), false],
    ['device: $SYS', 'device', '$SYS/x/heartbeat', false],
    ['device: rollout status', 'device', topics.rolloutStatus('r'), false],
    ['service: reported', 'service', topics.reported(B), true],
    ['service: desired', 'service', topics.desired(B), true],
    ['service: rollout status', 'service', topics.rolloutStatus('r'), true],
    ['service: $SYS', 'service', '$SYS/x/heartbeat', false],
    ['service: outside the prefix', 'service', 'elsewhere', false],
    ['unauthenticated: anything', 'anonymous', topics.desired('nobody'), false],
  ];

  it.each(cases)('%s', (_name, who, topic, allowed) => {
    const t = setup();
    const client = who === 'device' ? t.device(A) : who === 'service' ? t.service() : t.anonymous();
    const packet = { topic, payload: Buffer.from('x'), qos: 1 };
    expect(t.forward(client, packet)).toBe(allowed ? packet : null);
  });
});

describe('authorizeForward before the CONNACK', () => {
  it('writes nothing to a client whose CONNACK has not been sent, even its own desired', () => {
    const t = setup();
    const early = { id: A };
    t.identities.set(early, { kind: 'device', deviceId: A });
    const packet = { topic: topics.desired(A), payload: Buffer.from('x'), qos: 1 };
    expect(t.forward(early, packet)).toBeNull();
    t.connacks.markSent(early);
    expect(t.forward(early, packet)).toBe(packet);
  });
});

describe('authenticate', () => {
  type Outcome = { err: ConnackError | null; ok: boolean | null };

  function authSetup(opts: { secrets?: Record<string, string>; servicePassword?: string; failRedis?: boolean } = {}) {
    const identities = new IdentityRegistry();
    const wills = new PendingWills();
    const secrets = opts.secrets ?? { [A]: 'secret-of-a-0123456789', [B]: 'secret-of-b-0123456789' };
    const credentials = {
      check: async (deviceId: string, secret: string | Buffer): Promise<string | null> => {
        if (opts.failRedis) throw new Error('ECONNREFUSED');
        return secrets[deviceId] !== undefined && secrets[deviceId] === secret.toString() ? `record-of-${deviceId}` : null;
      },
      record: async (deviceId: string): Promise<string | null> => (secrets[deviceId] !== undefined ? `record-of-${deviceId}` : null),
    };
    const authenticate = createAuthenticate({
      credentials,
      policy,
      identities,
      wills,
      serviceUsername: SERVICE,
      servicePassword: 'servicePassword' in opts ? opts.servicePassword : SERVICE_PASSWORD,
      logger,
    });
    const preConnect = createPreConnect(wills);
    const connect = (
      clientId: string,
      username: string | undefined,
      password: string | undefined,
      will?: PublishLike,
    ): Promise<Outcome & { client: ClientLike }> =>
      new Promise((resolve) => {
        const client = { id: clientId };
        preConnect(client, { will }, () => {
          authenticate(client, username, password === undefined ? undefined : Buffer.from(password), (err, ok) =>
            resolve({ err, ok, client }),
          );
        });
      });
    return { identities, connect };
  }

  it('accepts a device whose client id equals its username and records its identity', async () => {
    const t = authSetup();
    const r = await t.connect(A, A, 'secret-of-a-0123456789', { topic: topics.presence(A), payload: Buffer.from('offline') });
    expect(r.err).toBeNull();
    expect(r.ok).toBe(true);
    expect(t.identities.get(r.client)).toEqual({ kind: 'device', deviceId: A, credentialRecord: `record-of-${A}` });
  });

  const refusals: Array<[string, [string, string | undefined, string | undefined, PublishLike?], number, string]> = [
    ['wrong secret', [A, A, 'secret-of-b-0123456789'], CONNACK.notAuthorized, 'AUTH_BAD_CREDENTIALS'],
    ['unknown device', ['dev-z', 'dev-z', 'whatever-secret-123456'], CONNACK.notAuthorized, 'AUTH_BAD_CREDENTIALS'],
    ['no password', [A, A, undefined], CONNACK.notAuthorized, 'AUTH_BAD_CREDENTIALS'],
    ['no username', [A, undefined, 'secret-of-a-0123456789'], CONNACK.notAuthorized, 'AUTH_BAD_CREDENTIALS'],
    ['username that is not a device id', ['Dev/A', 'Dev/A', 'x'], CONNACK.notAuthorized, 'AUTH_BAD_CREDENTIALS'],
    ["B's client id with A's credentials", [B, A, 'secret-of-a-0123456789'], CONNACK.identifierRejected, 'AUTH_CLIENT_ID_MISMATCH'],
    ["A's client id with username B and A's secret", [A, B, 'secret-of-a-0123456789'], CONNACK.identifierRejected, 'AUTH_CLIENT_ID_MISMATCH'],
    ['device will on reported', [A, A, 'secret-of-a-0123456789', { topic: topics.reported(A), payload: 'x' }], CONNACK.notAuthorized, 'AUTH_FORBIDDEN_TOPIC'],
    ["device will on B's presence", [A, A, 'secret-of-a-0123456789', { topic: topics.presence(B), payload: 'x' }], CONNACK.notAuthorized, 'AUTH_FORBIDDEN_TOPIC'],
    ['device will on $SYS', [A, A, 'secret-of-a-0123456789', { topic: '$SYS/x', payload: 'x' }], CONNACK.notAuthorized, 'AUTH_FORBIDDEN_TOPIC'],
    ['device will over the payload limit', [A, A, 'secret-of-a-0123456789', { topic: topics.presence(A), payload: Buffer.alloc(1001) }], CONNACK.notAuthorized, 'PAYLOAD_TOO_LARGE'],
    ['service with a wrong password', ['svc:controller-1', SERVICE, 'nope-nope-nope-nope'], CONNACK.notAuthorized, 'AUTH_BAD_CREDENTIALS'],
    ['service with a device id as client id', [A, SERVICE, SERVICE_PASSWORD], CONNACK.identifierRejected, 'AUTH_CLIENT_ID_MISMATCH'],
    ['service will outside the prefix', ['svc:controller-1', SERVICE, SERVICE_PASSWORD, { topic: 'x/y', payload: 'x' }], CONNACK.notAuthorized, 'AUTH_FORBIDDEN_TOPIC'],
  ];

  it.each(refusals)('refuses %s', async (_name, [clientId, username, password, will], returnCode, code) => {
    const t = authSetup();
    const r = await t.connect(clientId, username, password, will);
    expect(r.ok).toBe(false);
    expect(r.err?.returnCode).toBe(returnCode);
    expect(r.err?.code).toBe(code);
    expect(t.identities.get(r.client)).toBeUndefined();
  });

  it('accepts the service with a non-device client id and its password', async () => {
    const t = authSetup();
    const r = await t.connect('svc:controller-1', SERVICE, SERVICE_PASSWORD, { topic: 'outpost/v1/controller/status', payload: 'x' });
    expect(r.err).toBeNull();
    expect(t.identities.get(r.client)).toEqual({ kind: 'service', username: SERVICE });
  });

  it('refuses the service username when no service password is configured', async () => {
    const t = authSetup({ servicePassword: undefined });
    const r = await t.connect('svc:controller-1', SERVICE, '');
    expect(r.err?.returnCode).toBe(CONNACK.notAuthorized);
  });

  it('answers "server unavailable" (3) when the credential store fails', async () => {
    const t = authSetup({ failRedis: true });
    const r = await t.connect(A, A, 'secret-of-a-0123456789');
    expect(r.ok).toBe(false);
    expect(r.err?.returnCode).toBe(CONNACK.serverUnavailable);
  });

  it("does not carry one connection's will over to the next CONNECT of another client object", async () => {
    const t = authSetup();
    const wills = new PendingWills();
    const first = { id: A };
    wills.remember(first, { topic: topics.reported(A), payload: 'x' });
    expect(wills.take({ id: A })).toBeUndefined();
    expect(wills.take(first)?.topic).toBe(topics.reported(A));
    expect(wills.take(first)).toBeUndefined();
    // and a normal connect after a refused one is judged on its own will
    await t.connect(A, A, 'secret-of-a-0123456789', { topic: topics.reported(A), payload: 'x' });
    expect((await t.connect(A, A, 'secret-of-a-0123456789')).ok).toBe(true);
  });
});

describe('BrokerConfig', () => {
  it('lists every bad key at once', () => {
    let message = '';
    try {
      parseBrokerConfig({ port: '99999', redisUrl: 'http://x', serviceUsername: 'looks-like-a-device', bogus: 1 });
    } catch (err) {
      expect(isOutpostError(err) && err.code).toBe('CONFIG_INVALID');
      message = (err as Error).message;
    }
    for (const key of ['port', 'redisUrl', 'serviceUsername', 'bogus']) expect(message).toContain(key);
  });

  it('fills defaults, coerces numeric strings and freezes the result', () => {
    const c = parseBrokerConfig({ redisUrl: 'redis://127.0.0.1:6379', port: '1884' });
    expect(c.port).toBe(1884);
    expect(c.host).toBe('0.0.0.0');
    expect(c.serviceUsername).toBe('svc:outpost');
    expect(c.servicePassword).toBeUndefined();
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('refuses an empty port instead of turning it into port 0', () => {
    expect(() => parseBrokerConfig({ redisUrl: 'redis://127.0.0.1:6379', port: '' })).toThrow(/port/);
  });

  it('refuses topic limits too small for device topics under the prefix', () => {
    expect(() => parseBrokerConfig({ redisUrl: 'redis://h:1', maxTopicLevels: 4, maxTopicBytes: 40 })).toThrow(
      /maxTopicLevels.*maxTopicBytes|maxTopicBytes.*maxTopicLevels/,
    );
  });
});
