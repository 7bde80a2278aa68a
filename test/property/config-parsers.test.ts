import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkBrokerConfig, parseBrokerConfig } from '../../broker/config.js';
import { parseAgentConfig } from '../../agent/config.js';
import { parseControllerConfig } from '../../controller/config.js';
import { isOutpostError } from '../../shared/errors.js';
import { mutated } from './arbitraries/mutate.js';
import { runs } from './arbitraries/settings.js';

/**
 * The configuration parsers of the three processes: whatever flags, env or
 * files hold, the answer is a config or a CONFIG_INVALID error naming the
 * bad keys (never another exception, never a secret's value), and an
 * accepted config is one the process can start from.
 */

/** Marked so a leak is easy to find in a message; long enough to pass every length check. */
const secretArb = fc.string({ minLength: 8, maxLength: 24, unit: 'grapheme-ascii' }).map((s) => `SeCrEt-${s}-${'s'.repeat(16)}`);

/** What a flag or an environment variable can hold, and what a JSON config file could. */
const flagValueArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom('', ' ', '0', '1', '-1', '1e3', '0x10', '65536', '99999999999', 'off', 'true', 'false', 'null', 'debug', 'NaN', ' 42 '),
  fc.constantFrom('mqtt://[', 'mqtt://a:b:c', 'mqtt://x:99999', 'mqtt://a^b', 'mqtt://', 'redis://[', 'redis://:p@h:1', 'redis://h:1/0', 'rediss://h', 'http://x', 'mqtts://h:8883', 'tcp://h', 'mqtt://127.0.0.1:1883', 'mqtt://[::1]:1883/'),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }),
  fc.jsonValue({ maxDepth: 2 }),
);

/** URL-shaped strings: a known scheme and a random authority, which the scheme regexes admit. */
const urlishArb: fc.Arbitrary<unknown> = fc
  .tuple(fc.constantFrom('mqtt', 'mqtts', 'tcp', 'tls', 'redis', 'rediss', 'http'), fc.string({ maxLength: 15 }), fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: undefined }))
  .map(([scheme, authority, port]) => `${scheme}://${authority}${port === undefined ? '' : `:${port}`}`);

interface ParserCase {
  name: string;
  /** Returns the config, or throws. */
  parse: (input: unknown) => unknown;
  keys: readonly string[];
  valid: (secret: string) => Record<string, unknown>;
  /** Keys whose values are secrets. */
  secretKeys: readonly string[];
  urlKeys: readonly string[];
}

const CASES: ParserCase[] = [
  {
    name: 'broker (checkBrokerConfig / parseBrokerConfig)',
    parse: (input) => {
      // The checker itself must never throw; parse throws CONFIG_INVALID exactly when it says not ok.
      const checked = checkBrokerConfig(input);
      if (checked.ok) {
        expect(parseBrokerConfig(input)).toEqual(checked.config);
        return checked.config;
      }
      expect(checked.issues.length).toBeGreaterThan(0);
      return parseBrokerConfig(input);
    },
    keys: [
      'host', 'port', 'tlsPort', 'tlsCertFile', 'tlsKeyFile', 'tlsClientCaFile', 'redisUrl', 'keyPrefix', 'topicPrefix', 'maxPayloadBytes', 'maxTopicBytes',
      'maxTopicLevels', 'serviceUsername', 'servicePassword', 'maxSessionDelivery', 'maxQueuedMessages', 'sessionSweepIntervalMs', 'drainTimeoutMs', 'maxOutgoingBufferBytes',
      'heartbeatIntervalMs', 'connectTimeoutMs', 'concurrency', 'logLevel',
    ],
    valid: (secret) => ({ host: '127.0.0.1', port: '1883', redisUrl: 'redis://127.0.0.1:6379', servicePassword: secret, logLevel: 'info', maxQueuedMessages: '100' }),
    secretKeys: ['servicePassword'],
    urlKeys: ['redisUrl'],
  },
  {
    name: 'controller (parseControllerConfig)',
    parse: parseControllerConfig,
    keys: [
      'redisUrl', 'keyPrefix', 'topicPrefix', 'brokerUrl', 'brokerCaFile', 'serviceUsername', 'servicePassword', 'clientId', 'apiHost', 'apiPort', 'apiTlsCertFile',
      'apiTlsKeyFile', 'adminTokens', 'antiEntropyIntervalSeconds', 'publishBatchSize', 'signDesired', 'signingKeyFile', 'desiredValiditySeconds',
      'brokerWaitSeconds', 'redisWaitSeconds', 'publishLeaseSeconds', 'rolloutPollSeconds', 'auditMaxEntries', 'logLevel',
    ],
    valid: (secret) => ({ redisUrl: 'redis://127.0.0.1:6379', brokerUrl: 'mqtt://127.0.0.1:1883', servicePassword: secret, adminTokens: [`${secret}-admin`], apiPort: '8080' }),
    secretKeys: ['servicePassword', 'adminTokens'],
    urlKeys: ['redisUrl', 'brokerUrl'],
  },
  {
    name: 'agent (parseAgentConfig)',
    parse: parseAgentConfig,
    keys: [
      'deviceId', 'brokerUrl', 'secret', 'caFile', 'certFile', 'keyFile', 'insecurePlaintext', 'stateDir', 'topicPrefix', 'dockerSocket', 'allowedHostPaths',
      'allowedCapabilities', 'allowedVolumes', 'secretFile', 'trust', 'acceptUnsigned', 'locksDir', 'lockPollMs', 'telemetryIntervalSeconds', 'telemetryDeltas', 'keepaliveSeconds',
      'connectTimeoutMs', 'reconnectBaseMs', 'reconnectCapMs', 'watchdogSeconds', 'settleMs', 'maxSettleMs', 'resyncIntervalSeconds', 'retryBaseMs',
      'retryCapMs', 'maxDesiredBytes', 'logLevel',
    ],
    valid: (secret) => ({ deviceId: 'kiosk-1', brokerUrl: 'mqtt://127.0.0.1:1883', secret, stateDir: '/var/lib/outpost', acceptUnsigned: true }),
    secretKeys: ['secret'],
    urlKeys: ['brokerUrl'],
  },
];

/** Runs the parser: the config, or the CONFIG_INVALID error. Anything else fails the property. */
function outcome(c: ParserCase, input: unknown): { ok: true; config: Record<string, unknown> } | { ok: false; message: string } {
  try {
    return { ok: true, config: c.parse(input) as Record<string, unknown> };
  } catch (err) {
    if (isOutpostError(err) && err.code === 'CONFIG_INVALID') return { ok: false, message: err.message };
    throw err;
  }
}

function secretsOf(c: ParserCase, input: unknown): string[] {
  if (input === null || typeof input !== 'object') return [];
  return c.secretKeys.flatMap((k) => {
    const v = (input as Record<string, unknown>)[k];
    return (Array.isArray(v) ? v : [v]).filter((s): s is string => typeof s === 'string' && s.startsWith('SeCrEt-'));
  });
}

/** An accepted configuration: frozen, and its URLs parse (the process connects to them as they are). */
function checkAccepted(c: ParserCase, config: Record<string, unknown>): void {
  expect(Object.isFrozen(config)).toBe(true);
  for (const key of c.urlKeys) expect(URL.canParse(String(config[key])), `${key} ${String(config[key]).slice(0, 100)} does not parse as a URL`).toBe(true);
}

describe('URLs the scheme checks admit but the URL parser refuses (found by these properties)', () => {
  it.each(['mqtt://:0', 'mqtt://x:99999', 'mqtt://[', 'tcp://a^b'])('agent broker %s: CONFIG_INVALID naming brokerUrl', (brokerUrl) => {
    expect(() => parseAgentConfig({ deviceId: 'kiosk-1', brokerUrl, secret: 'x'.repeat(32), stateDir: '/var/lib/outpost', acceptUnsigned: true })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('brokerUrl') }),
    );
  });
  it.each([
    ['redisUrl', 'rediss://:0'],
    ['redisUrl', 'redis://127.0.0.1:6379redis://x'],
    ['brokerUrl', 'mqtt://x:99999'],
  ])('controller %s %s: CONFIG_INVALID naming it', (key, value) => {
    const valid = { redisUrl: 'redis://127.0.0.1:6379', brokerUrl: 'mqtt://127.0.0.1:1883', servicePassword: 's'.repeat(16), adminTokens: ['a'.repeat(16)] };
    expect(() => parseControllerConfig({ ...valid, [key]: value })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining(key) }));
  });
});

describe.each(CASES)('$name', (c) => {
  const valueFor = (key: string): fc.Arbitrary<unknown> =>
    c.secretKeys.includes(key) ? fc.oneof(secretArb, secretArb.map((s) => [s]), flagValueArb) : c.urlKeys.includes(key) ? fc.oneof(urlishArb, flagValueArb) : flagValueArb;
  const keyedArb = fc.record(Object.fromEntries(c.keys.map((k) => [k, valueFor(k)])), { requiredKeys: [] });
  const validArb = secretArb.map((s) => c.valid(s));
  /** A valid configuration with one to three keys set to random flag-like values: reaches the checks behind the first. */
  const nearValidArb = fc
    .tuple(validArb, fc.array(fc.constantFrom(...c.keys, ...c.urlKeys, ...c.secretKeys).chain((k) => fc.tuple(fc.constant(k), valueFor(k))), { minLength: 1, maxLength: 3 }))
    .map(([valid, edits]) => ({ ...valid, ...Object.fromEntries(edits) }));

  it('random values of any type: a config or CONFIG_INVALID', () => {
    fc.assert(
      fc.property(fc.anything({ maxDepth: 2, withBigInt: true, withNullPrototype: true, withBoxedValues: true }), (input) => {
        outcome(c, input);
      }),
      runs(300),
    );
  });

  it('every key with random flag-like values: a usable config or CONFIG_INVALID, never echoing a secret', () => {
    fc.assert(
      fc.property(fc.oneof(keyedArb, nearValidArb), (input) => {
        const result = outcome(c, input);
        if (result.ok) checkAccepted(c, result.config);
        else for (const secret of secretsOf(c, input)) expect(result.message).not.toContain(secret);
      }),
      runs(600),
    );
  });

  it('a valid configuration is accepted; with random structural edits, a usable config or CONFIG_INVALID, never echoing a secret', () => {
    fc.assert(
      fc.property(validArb, (valid) => {
        const result = outcome(c, valid);
        expect(result).toMatchObject({ ok: true });
        if (result.ok) checkAccepted(c, result.config);
      }),
      runs(50),
    );
    fc.assert(
      fc.property(mutated(validArb), (input) => {
        const result = outcome(c, input);
        if (result.ok) checkAccepted(c, result.config);
        else for (const secret of secretsOf(c, input)) expect(result.message).not.toContain(secret);
      }),
      runs(600),
    );
  });
});
