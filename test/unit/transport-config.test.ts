import { describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../../agent/config.js';
import { checkBrokerConfig } from '../../broker/config.js';
import { buildContext } from '../../cli/commands/command-context.js';
import { parseControllerConfig } from '../../controller/config.js';
import { isLoopbackHost } from '../../shared/loopback.js';

/** DD-023: what each part accepts as transport, checked before anything connects. */

describe('isLoopbackHost', () => {
  it.each(['127.0.0.1', '127.8.9.10', 'localhost', 'LOCALHOST', 'localhost.', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', '[::ffff:7f00:1]'])(
    '%s is this machine',
    (host) => expect(isLoopbackHost(host)).toBe(true),
  );
  it.each(['10.0.0.1', '192.0.2.10', '0.0.0.0', '128.0.0.1', 'example.com', 'localhost.example.com', 'my-host', '::', '::2', '::ffff:10.0.0.1', '127.1', ''])(
    '%s is not',
    (host) => expect(isLoopbackHost(host)).toBe(false),
  );
});

describe('agent transport configuration', () => {
  const base = { deviceId: 'dev-a', stateDir: '/tmp/outpost-test-state', acceptUnsigned: true };
  const SECRET = 's3cret-s3cret-s3cret';
  const parse = (config: Record<string, unknown>) => parseAgentConfig({ ...base, ...config });

  it('refuses mqtt:// and tcp:// to another machine, saying why', () => {
    for (const brokerUrl of ['mqtt://192.0.2.10:1883', 'tcp://broker.example:1883', 'mqtt://10.0.0.1']) {
      expect(() => parse({ brokerUrl, secret: SECRET })).toThrow(/not this machine.*unencrypted.*mqtts:\/\/.*--insecure-plaintext/);
    }
  });

  it('accepts plain MQTT to loopback, and elsewhere only with --insecure-plaintext', () => {
    expect(parse({ brokerUrl: 'mqtt://127.0.0.1:1883', secret: SECRET }).insecurePlaintext).toBe(false);
    expect(parse({ brokerUrl: 'mqtt://[::1]:1883', secret: SECRET }).brokerUrl).toBe('mqtt://[::1]:1883');
    expect(parse({ brokerUrl: 'mqtt://localhost:1883', secret: SECRET }).brokerUrl).toBe('mqtt://localhost:1883');
    expect(parse({ brokerUrl: 'mqtt://192.0.2.10:1883', secret: SECRET, insecurePlaintext: true }).insecurePlaintext).toBe(true);
  });

  it('mqtts:// anywhere; a client certificate replaces the secret', () => {
    const config = parse({ brokerUrl: 'mqtts://broker.example:8883', caFile: '/etc/ca.pem', certFile: '/etc/dev.pem', keyFile: '/etc/dev.key' });
    expect(config.secret).toBeUndefined();
    expect(parse({ brokerUrl: 'mqtts://192.0.2.10:8883', secret: SECRET }).caFile).toBeUndefined();
  });

  it('refuses what cannot work: no secret and no certificate, half a key pair, TLS files with mqtt://', () => {
    expect(() => parse({ brokerUrl: 'mqtts://b:8883' })).toThrow(/secret .* or a client certificate/);
    expect(() => parse({ brokerUrl: 'mqtts://b:8883', certFile: '/etc/dev.pem' })).toThrow(/--cert and --key go together/);
    expect(() => parse({ brokerUrl: 'mqtt://127.0.0.1:1883', secret: SECRET, caFile: '/etc/ca.pem' })).toThrow(/need a TLS broker URL/);
  });

  it('checks every failover broker as it checks the first (DD-046)', () => {
    const ok = parse({ brokerUrl: 'mqtts://a.example:8883', failoverBrokerUrls: ['mqtts://b.example:8883'], secret: SECRET });
    expect(ok.failoverBrokerUrls).toEqual(['mqtts://b.example:8883']);
    expect(() => parse({ brokerUrl: 'mqtts://a.example:8883', failoverBrokerUrls: ['mqtt://192.0.2.10:1883'], secret: SECRET })).toThrow(
      /refusing mqtt:\/\/ to 192\.0\.2\.10/,
    );
    expect(() => parse({ brokerUrl: 'mqtts://a.example:8883', failoverBrokerUrls: ['not a url'], secret: SECRET })).toThrow(/failoverBrokerUrls.*broker must be a URL/);
  });
});

describe('broker listener configuration', () => {
  const base = { redisUrl: 'redis://127.0.0.1:6379' };
  const ok = (extra: Record<string, unknown>) => {
    const r = checkBrokerConfig({ ...base, ...extra });
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    return r.config;
  };
  const issues = (extra: Record<string, unknown>) => {
    const r = checkBrokerConfig({ ...base, ...extra });
    return r.ok ? [] : r.issues;
  };

  it('plain TCP alone by default; TLS beside it on 8883 once a certificate is given; TLS only with port off', () => {
    expect(ok({})).toMatchObject({ port: 1883, tlsPort: undefined });
    expect(ok({ tlsCertFile: 'c.pem', tlsKeyFile: 'k.pem' })).toMatchObject({ port: 1883, tlsPort: 8883 });
    expect(ok({ port: 'off', tlsPort: '8884', tlsCertFile: 'c.pem', tlsKeyFile: 'k.pem', tlsClientCaFile: 'ca.pem' })).toMatchObject({
      port: null,
      tlsPort: 8884,
      tlsClientCaFile: 'ca.pem',
    });
  });

  it('lists what is missing or contradictory', () => {
    expect(issues({ port: 'off' })).toEqual([expect.objectContaining({ key: 'port', message: expect.stringMatching(/no connection/) })]);
    expect(issues({ tlsPort: '8883' }).map((i) => i.key)).toEqual(['tlsCertFile', 'tlsKeyFile']);
    expect(issues({ tlsCertFile: 'c.pem' }).map((i) => i.key)).toEqual(['tlsKeyFile']);
    expect(issues({ tlsClientCaFile: 'ca.pem' }).map((i) => i.key)).toEqual(['tlsCertFile', 'tlsKeyFile']);
    expect(issues({ port: '8883', tlsCertFile: 'c.pem', tlsKeyFile: 'k.pem' }).map((i) => i.key)).toEqual(['tlsPort']);
    expect(issues({ port: 'of' })).toEqual([expect.objectContaining({ key: 'port', message: 'must be a whole number' })]);
  });
});

describe('controller and CLI', () => {
  it('the API certificate and key go together', () => {
    const base = { redisUrl: 'redis://127.0.0.1:1', brokerUrl: 'mqtts://b:8883', servicePassword: 'x'.repeat(16), adminTokens: ['t'.repeat(16)] };
    expect(parseControllerConfig({ ...base, apiTlsCertFile: 'c.pem', apiTlsKeyFile: 'k.pem', brokerCaFile: 'ca.pem' }).apiTlsCertFile).toBe('c.pem');
    expect(() => parseControllerConfig({ ...base, apiTlsCertFile: 'c.pem' })).toThrow(/apiTlsCertFile and apiTlsKeyFile go together/);
  });

  it('the CLI refuses http:// to another machine before it opens any connection', () => {
    const env = { OUTPOST_TOKEN: 'a-token-a-token-a-token' };
    expect(() => buildContext({ api: 'http://192.0.2.10:8080' }, env)).toThrow(/refusing http:\/\/ to 192\.0\.2\.10.*token.*unencrypted/);
    expect(() => buildContext({ api: '192.0.2.10:8080' }, env)).toThrow(expect.objectContaining({ code: 'PLAINTEXT_REFUSED', exitCode: 1 }));
    // Allowed, and nothing is sent until a command makes a request.
    expect(buildContext({ api: 'http://192.0.2.10:8080', insecurePlaintext: true }, env).client.baseUrl).toBe('http://192.0.2.10:8080');
    expect(buildContext({ api: 'https://192.0.2.10:8443' }, env).client.baseUrl).toBe('https://192.0.2.10:8443');
    expect(buildContext({ api: 'http://127.0.0.1:8080' }, env).client.baseUrl).toBe('http://127.0.0.1:8080');
    expect(() => buildContext({ api: 'https://192.0.2.10:8443', ca: '/nonexistent/ca.pem' }, env)).toThrow(expect.objectContaining({ code: 'CA_FILE_UNREADABLE' }));
  });
});
