import { describe, expect, it } from 'vitest';
import { checkBrokerConfig, parseBrokerConfig } from '../../broker/config.js';

const base = { redisUrl: 'redis://127.0.0.1:6379' };

describe('broker config: persistence and listen backlog (DD-028)', () => {
  it('defaults to the outpost persistence and a listen backlog of 4096', () => {
    expect(parseBrokerConfig(base)).toMatchObject({ persistence: 'outpost', listenBacklog: 4096, emitter: 'redis' });
  });

  it.each([
    [{ persistence: 'legacy', listenBacklog: '16384' }, { persistence: 'legacy', listenBacklog: 16384 }],
    [{ persistence: 'outpost', listenBacklog: 1 }, { persistence: 'outpost', listenBacklog: 1 }],
    [{ emitter: 'local' }, { emitter: 'local' }],
  ])('accepts %j', (input, expected) => {
    expect(parseBrokerConfig({ ...base, ...input })).toMatchObject(expected);
  });

  it('lists every bad value', () => {
    const result = checkBrokerConfig({ ...base, persistence: 'memory', emitter: 'kafka', listenBacklog: '0' });
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.issues).toEqual([
      { key: 'persistence', message: 'must be one of outpost, legacy' },
      { key: 'emitter', message: 'must be redis or local' },
      { key: 'listenBacklog', message: 'must be at least 1' },
    ]);
  });
});

describe('broker config: store key (DD-047)', () => {
  it('takes a store key file with the outpost persistence', () => {
    expect(parseBrokerConfig({ ...base, storeKeyFile: '/etc/outpost/broker-store.key' })).toMatchObject({ persistence: 'outpost', storeKeyFile: '/etc/outpost/broker-store.key' });
  });

  it('refuses a store key with the legacy persistence', () => {
    const result = checkBrokerConfig({ ...base, persistence: 'legacy', storeKeyFile: '/k' });
    expect(result.ok ? [] : result.issues).toEqual([
      { key: 'storeKeyFile', message: 'needs the outpost persistence: the legacy persistence (aedes-persistence-redis) cannot seal stored packets' },
    ]);
  });
});
