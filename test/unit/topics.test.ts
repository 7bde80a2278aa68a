import { describe, it, expect } from 'vitest';
import { DEFAULT_TOPIC_PREFIX, DEVICE_CHANNELS, hasWildcard, TopicPrefix, Topics } from '../../shared/topics.js';

const topics = new Topics();

describe('topic builders', () => {
  it('uses the documented default prefix', () => {
    expect(DEFAULT_TOPIC_PREFIX).toBe('outpost/v1');
    expect(topics.prefix).toBe('outpost/v1');
  });

  it('builds the exact device topics', () => {
    expect(topics.desired('dev-1')).toBe('outpost/v1/devices/dev-1/desired');
    expect(topics.reported('dev-1')).toBe('outpost/v1/devices/dev-1/reported');
    expect(topics.presence('dev-1')).toBe('outpost/v1/devices/dev-1/presence');
    expect(topics.events('dev-1')).toBe('outpost/v1/devices/dev-1/events');
    expect(topics.commands('dev-1')).toBe('outpost/v1/devices/dev-1/commands');
    expect(topics.telemetry('dev-1')).toBe('outpost/v1/devices/dev-1/telemetry');
    expect(topics.allDevices('reported')).toBe('outpost/v1/devices/+/reported');
  });

  it.each(DEVICE_CHANNELS)('round-trips channel %s through parseDevice', (channel) => {
    for (const deviceId of ['a', 'edge.gw_01', 'x'.repeat(63)]) {
      expect(topics.parseDevice(topics.device(deviceId, channel))).toEqual({ deviceId, channel });
    }
  });

  it.each(['', 'A', 'a/b', '+', '#', '$SYS', 'a b', '..', '-a', 'a\u0000', 'x'.repeat(64), 'a/desired/x'])(
    'throws on bad device id %j',
    (id) => {
      expect(() => topics.desired(id)).toThrow(TypeError);
      expect(() => topics.device(id, 'events')).toThrow(/invalid device id/);
    },
  );

  it('validates rollout ids', () => {
    expect(topics.rolloutStatus('r-1_a')).toBe('outpost/v1/rollouts/r-1_a/status');
    for (const id of ['', 'a/b', '+', '#', 'x'.repeat(65)]) expect(() => topics.rolloutStatus(id)).toThrow(TypeError);
    expect(topics.parseRolloutStatus(topics.rolloutStatus('r-1_a'))).toBe('r-1_a');
    for (const t of ['outpost/v1/rollouts/+/status', 'outpost/v1/rollouts/a/b/status', 'outpost/v1/rollouts//status', 'other/rollouts/a/status', 'outpost/v1/rollouts/a/state']) {
      expect(topics.parseRolloutStatus(t), t).toBeNull();
    }
  });
});

describe('parseDevice against hostile strings', () => {
  const long = 'a'.repeat(100_000);
  const HOSTILE: ReadonlyArray<[label: string, topic: string]> = [
    ['empty', ''],
    ['lone hash', '#'],
    ['lone plus', '+'],
    ['plus as device', 'outpost/v1/devices/+/desired'],
    ['hash as device', 'outpost/v1/devices/#'],
    ['hash as channel', 'outpost/v1/devices/a/#'],
    ['plus as channel', 'outpost/v1/devices/a/+'],
    ['plus inside device', 'outpost/v1/devices/a+/desired'],
    ['$SYS', '$SYS/broker/clients/connected'],
    ['$SYS in front of a device topic', '$SYS/outpost/v1/devices/a/desired'],
    ['extra level', 'outpost/v1/devices/a/desired/x'],
    ['trailing slash', 'outpost/v1/devices/a/desired/'],
    ['missing channel', 'outpost/v1/devices/a'],
    ['empty channel', 'outpost/v1/devices/a/'],
    ['missing device', 'outpost/v1/devices/desired'],
    ['root only', 'outpost/v1/devices/'],
    ['prefix only', 'outpost/v1'],
    ['empty device level', 'outpost/v1/devices//desired'],
    ['empty prefix level', 'outpost//v1/devices/a/desired'],
    ['leading slash', '/outpost/v1/devices/a/desired'],
    ['other version', 'outpost/v2/devices/a/desired'],
    ['other prefix', 'acme/v1/devices/a/desired'],
    ['upper-case prefix', 'OUTPOST/v1/devices/a/desired'],
    ['prefix lookalike v1x', 'outpost/v1x/devices/a/desired'],
    ['prefix lookalike devicesx', 'outpost/v1/devicesx/a/desired'],
    ['singular device', 'outpost/v1/device/a/desired'],
    ['unknown channel', 'outpost/v1/devices/a/secrets'],
    ['upper-case channel', 'outpost/v1/devices/a/Desired'],
    ['channel with NUL', 'outpost/v1/devices/a/desired\u0000'],
    ['channel with space', 'outpost/v1/devices/a/desired '],
    ['upper-case device', 'outpost/v1/devices/A/desired'],
    ['device with space', 'outpost/v1/devices/a b/desired'],
    ['device with dollar', 'outpost/v1/devices/$a/desired'],
    ['device with leading dot', 'outpost/v1/devices/.a/desired'],
    ['device dot-dot', 'outpost/v1/devices/../desired'],
    ['device look-alike', 'outpost/v1/devices/dev\u0456ce/desired'],
    ['device of 64 chars', `outpost/v1/devices/${'x'.repeat(64)}/desired`],
    ['very long device', `outpost/v1/devices/${long}/desired`],
    ['very long channel', `outpost/v1/devices/a/${long}`],
    ['very long garbage', '/'.repeat(100_000)],
  ];

  it.each(HOSTILE)('rejects %s', (_label, topic) => {
    expect(topics.parseDevice(topic)).toBeNull();
  });

  it('rejects non-strings', () => {
    expect(topics.parseDevice(undefined as unknown as string)).toBeNull();
    expect(topics.parseDevice(42 as unknown as string)).toBeNull();
  });
});

describe('custom prefix', () => {
  const custom = new Topics('acme/edge/outpost');

  it('builds and parses under the custom prefix only', () => {
    const topic = custom.desired('dev-1');
    expect(topic).toBe('acme/edge/outpost/devices/dev-1/desired');
    expect(custom.parseDevice(topic)).toEqual({ deviceId: 'dev-1', channel: 'desired' });
    expect(topics.parseDevice(topic)).toBeNull();
    expect(custom.parseDevice(topics.desired('dev-1'))).toBeNull();
  });

  it('knows what is under the prefix', () => {
    expect(custom.isUnderPrefix('acme/edge/outpost')).toBe(true);
    expect(custom.isUnderPrefix('acme/edge/outpost/devices/a/desired')).toBe(true);
    expect(custom.isUnderPrefix('acme/edge/outpostx/devices/a/desired')).toBe(false);
    expect(custom.isUnderPrefix('acme/edge')).toBe(false);
    expect(custom.isUnderPrefix('#')).toBe(false);
  });

  it.each(['outpost/v1', 'acme', 'a/b/c/d', 'acme_1/edge-2/v1.0'])('TopicPrefix accepts %j', (prefix) => {
    expect(TopicPrefix.safeParse(prefix).success).toBe(true);
    expect(new Topics(prefix).prefix).toBe(prefix);
  });

  it.each([
    '',
    '/outpost',
    'outpost/',
    'outpost//v1',
    '+',
    '#',
    'outpost/+',
    'outpost/#',
    'outpost/v1/+/x',
    '$SYS',
    'outpost/$v1',
    '.hidden',
    'a/b/c/d/e',
    'out post',
    'outpost/v1\u0000',
    'outpost/v1\n',
  ])('TopicPrefix rejects %j', (prefix) => {
    expect(TopicPrefix.safeParse(prefix).success).toBe(false);
    expect(() => new Topics(prefix)).toThrow();
  });
});

describe('hasWildcard', () => {
  it.each([
    ['outpost/v1/devices/+/desired', true],
    ['outpost/#', true],
    ['#', true],
    ['outpost/v1/devices/a/desired', false],
    ['', false],
  ] as const)('%j → %s', (topic, expected) => {
    expect(hasWildcard(topic)).toBe(expected);
  });
});
