import { describe, expect, it } from 'vitest';
import { AccessPolicy } from '../../broker/auth/access-policy.js';
import { CONNACK, createAuthenticate, createPreConnect, PendingWills, type ConnackError } from '../../broker/auth/authenticate.js';
import { IdentityRegistry, type ClientLike } from '../../broker/auth/identity.js';
import { certificateNames, tlsPeerOf, type TlsPeer } from '../../broker/auth/tls-peer.js';
import { parseBrokerConfig } from '../../broker/config.js';
import { silentLogger } from '../../shared/logger.js';
import { Topics } from '../../shared/topics.js';

/**
 * DD-023: over TLS a verified client certificate naming the device id may
 * replace its password; a bad certificate refuses the CONNECT whatever else
 * it carries. The TLS peer state is injected, as the connection server
 * records it; the real handshake is tested end to end in test/e2e/tls.test.ts.
 */
const topics = new Topics('outpost/v1');
const policy = new AccessPolicy(topics, parseBrokerConfig({ redisUrl: 'redis://127.0.0.1:6379' }));
const A = 'dev-a';
const B = 'dev-b';
const SECRET_A = 'secret-of-a-0123456789';
const SERVICE = 'svc:outpost';
const SERVICE_PASSWORD = 'service-password-0123456789';

const verified = (...names: string[]): TlsPeer => ({ certificate: true, verified: true, names });
const unverified = (verifyError: string, ...names: string[]): TlsPeer => ({ certificate: true, verified: false, verifyError, names });

function setup(enrolled: Record<string, string> = { [A]: SECRET_A, [B]: 'secret-of-b-0123456789' }) {
  const identities = new IdentityRegistry();
  const wills = new PendingWills();
  const peers = new WeakMap<ClientLike, TlsPeer>();
  const authenticate = createAuthenticate({
    credentials: {
      check: async (id, secret) => (enrolled[id] !== undefined && enrolled[id] === secret.toString() ? `record-of-${id}` : null),
      record: async (id) => (enrolled[id] !== undefined ? `record-of-${id}` : null),
    },
    policy,
    identities,
    wills,
    serviceUsername: SERVICE,
    servicePassword: SERVICE_PASSWORD,
    tlsPeerOf: (client) => peers.get(client),
    logger: silentLogger(),
  });
  const preConnect = createPreConnect(wills);
  const connect = (clientId: string, username: string, password: string | undefined, peer: TlsPeer | undefined) =>
    new Promise<{ err: ConnackError | null; ok: boolean | null; client: ClientLike }>((resolve) => {
      const client = { id: clientId };
      if (peer) peers.set(client, peer);
      preConnect(client, {}, () =>
        authenticate(client, username, password === undefined ? undefined : Buffer.from(password), (err, ok) => resolve({ err, ok, client })),
      );
    });
  return { identities, connect };
}

describe('authenticate over TLS', () => {
  it('a verified certificate naming the device authenticates it without a password', async () => {
    const t = setup();
    for (const peer of [verified(A), verified('a device', A), verified('other', 'urn:x', A)]) {
      const r = await t.connect(A, A, undefined, peer);
      expect(r.err).toBeNull();
      expect(r.ok).toBe(true);
      // The current record is kept, so rotating or revoking the credential ends the session (DD-022).
      expect(t.identities.get(r.client)).toEqual({ kind: 'device', deviceId: A, credentialRecord: `record-of-${A}` });
    }
  });

  it('a verified certificate and the right password authenticate together', async () => {
    const r = await setup().connect(A, A, SECRET_A, verified(A));
    expect(r.ok).toBe(true);
  });

  const refusals: Array<[string, [string, string, string | undefined, TlsPeer | undefined], number, string, RegExp]> = [
    ['certificate of another device', [A, A, undefined, verified(B)], CONNACK.notAuthorized, 'AUTH_CERT_MISMATCH', /is for dev-b, not dev-a/],
    ["another device's certificate with the right password", [A, A, SECRET_A, verified(B)], CONNACK.notAuthorized, 'AUTH_CERT_MISMATCH', /not dev-a/],
    ['expired certificate', [A, A, undefined, unverified('CERT_HAS_EXPIRED', A)], CONNACK.notAuthorized, 'AUTH_CERT_INVALID', /CERT_HAS_EXPIRED/],
    ['expired certificate with the right password', [A, A, SECRET_A, unverified('CERT_HAS_EXPIRED', A)], CONNACK.notAuthorized, 'AUTH_CERT_INVALID', /CERT_HAS_EXPIRED/],
    ['certificate of another CA', [A, A, undefined, unverified('UNABLE_TO_VERIFY_LEAF_SIGNATURE', A)], CONNACK.notAuthorized, 'AUTH_CERT_INVALID', /UNABLE_TO_VERIFY_LEAF_SIGNATURE/],
    ['right certificate, wrong password', [A, A, 'secret-of-b-0123456789', verified(A)], CONNACK.notAuthorized, 'AUTH_BAD_CREDENTIALS', /bad device credentials/],
    ['right certificate, device not enrolled (revoked)', ['dev-z', 'dev-z', undefined, verified('dev-z')], CONNACK.notAuthorized, 'AUTH_BAD_CREDENTIALS', /not enrolled/],
    ['right certificate, client id of another device', [B, A, undefined, verified(A)], CONNACK.identifierRejected, 'AUTH_CLIENT_ID_MISMATCH', /client id/],
    ['TLS without certificate or password', [A, A, undefined, { certificate: false }], CONNACK.notAuthorized, 'AUTH_BAD_CREDENTIALS', /password or client certificate required/],
    ['plain TCP without password', [A, A, undefined, undefined], CONNACK.notAuthorized, 'AUTH_BAD_CREDENTIALS', /password or client certificate required/],
    ['service with a bad certificate', ['svc:c1', SERVICE, SERVICE_PASSWORD, unverified('CERT_HAS_EXPIRED', 'svc')], CONNACK.notAuthorized, 'AUTH_CERT_INVALID', /CERT_HAS_EXPIRED/],
    ['service with a device certificate but no password', ['svc:c1', SERVICE, undefined, verified(A)], CONNACK.notAuthorized, 'AUTH_BAD_CREDENTIALS', /service/],
  ];

  it.each(refusals)('refuses: %s', async (_name, [clientId, username, password, peer], returnCode, code, reason) => {
    const r = await setup().connect(clientId, username, password, peer);
    expect(r.ok).toBe(false);
    expect(r.err?.returnCode).toBe(returnCode);
    expect(r.err?.code).toBe(code);
    expect(r.err?.message).toMatch(reason);
  });

  it('the service keeps password authentication over TLS, with or without a verified certificate', async () => {
    const t = setup();
    expect((await t.connect('svc:c1', SERVICE, SERVICE_PASSWORD, { certificate: false })).ok).toBe(true);
    expect((await t.connect('svc:c2', SERVICE, SERVICE_PASSWORD, verified('controller'))).ok).toBe(true);
  });
});

describe('TLS peer state', () => {
  it('names: subject CN, DNS and URI SANs, exactly as written', () => {
    expect(certificateNames({ subject: { CN: 'dev-a' } as never, subjectaltname: 'DNS:dev-b, URI:spiffe://x/dev-c, IP Address:127.0.0.1, email:a@b' })).toEqual([
      'dev-a',
      'dev-b',
      'spiffe://x/dev-c',
    ]);
    expect(certificateNames({ subject: { CN: ['a', 'b'] } as never, subjectaltname: undefined as never })).toEqual(['a', 'b']);
    // A wildcard is a name like any other: it never matches a device id.
    expect(certificateNames({ subject: {} as never, subjectaltname: 'DNS:*.gw' })).toEqual(['*.gw']);
  });

  it('no certificate, a verified one, and one refused with the reason OpenSSL gave', () => {
    const socket = (cert: object, authorized: boolean, authorizationError?: string) => ({
      authorized,
      authorizationError: authorizationError as unknown as Error,
      getPeerCertificate: () => cert as never,
    });
    expect(tlsPeerOf(socket({}, false, 'UNABLE_TO_GET_ISSUER_CERT'))).toEqual({ certificate: false });
    expect(tlsPeerOf(socket({ subject: { CN: A } }, true))).toEqual({ certificate: true, verified: true, names: [A] });
    expect(tlsPeerOf(socket({ subject: { CN: A } }, false, 'CERT_HAS_EXPIRED'))).toEqual({
      certificate: true,
      verified: false,
      verifyError: 'CERT_HAS_EXPIRED',
      names: [A],
    });
  });
});
