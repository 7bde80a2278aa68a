import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { dropStaleWillsOnReconnect, parseWillKey, type StaleWillDeps } from '../../broker/stale-wills.js';
import { silentLogger } from '../../shared/logger.js';

const OWN = 'broker-new';

function setup(keys: string[] | Error) {
  const aedes = Object.assign(new EventEmitter(), { id: OWN });
  const deleted: { id: string; brokerId: string }[] = [];
  let lranges = 0;
  const deps: StaleWillDeps = {
    aedes: aedes as unknown as StaleWillDeps['aedes'],
    redis: {
      lrange: (async () => {
        lranges += 1;
        if (keys instanceof Error) throw keys;
        return keys;
      }) as unknown as StaleWillDeps['redis']['lrange'],
    },
    persistence: {
      delWill: async (will) => {
        deleted.push(will);
        return null;
      },
    },
    logger: silentLogger(),
  };
  const connect = async (id: string): Promise<void> => {
    aedes.emit('clientReady', { id });
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { deps, deleted, connect, lranges: () => lranges };
}

describe('parseWillKey', () => {
  it.each([
    ['will:b1:dev-a', { brokerId: 'b1', clientId: 'dev-a' }],
    ['will:b1:svc%3Aoutpost', { brokerId: 'b1', clientId: 'svc:outpost' }],
    ['will:b:1:dev-a', { brokerId: 'b:1', clientId: 'dev-a' }],
    ['will::dev-a', undefined],
    ['will:b1', undefined],
    ['other:b1:dev-a', undefined],
    ['will:b1:%E0%A4%A', undefined],
  ])('%s', (key, expected) => {
    expect(parseWillKey(key)).toEqual(expected);
  });
});

describe('dropStaleWillsOnReconnect', () => {
  it("deletes a reconnecting client's wills of other brokers once, never this broker's, reading Redis only at startup", async () => {
    const { deps, deleted, connect, lranges } = setup([
      'will:dead-1:dev-a',
      'will:dead-2:dev-a',
      `will:${OWN}:dev-a`,
      'will:dead-1:dev-b',
      'will:dead-1:svc%3Aoutpost',
    ]);
    await dropStaleWillsOnReconnect(deps);

    await connect('dev-a');
    expect(deleted).toEqual([
      { id: 'dev-a', brokerId: 'dead-1' },
      { id: 'dev-a', brokerId: 'dead-2' },
    ]);
    await connect('dev-a');
    await connect('dev-unknown');
    await connect('svc:outpost');
    expect(deleted.slice(2)).toEqual([{ id: 'svc:outpost', brokerId: 'dead-1' }]);
    expect(lranges()).toBe(1);
  });

  it('a Redis failure at startup or on deletion is logged, never thrown', async () => {
    const failing = setup(new Error('redis down'));
    await expect(dropStaleWillsOnReconnect(failing.deps)).resolves.toBeUndefined();
    await failing.connect('dev-a');
    expect(failing.deleted).toEqual([]);

    const { deps, connect } = setup(['will:dead:dev-a', 'will:dead:dev-b']);
    deps.persistence.delWill = async () => {
      throw new Error('redis down');
    };
    await dropStaleWillsOnReconnect(deps);
    await expect(connect('dev-a')).resolves.toBeUndefined();
    deps.persistence.delWill = () => {
      throw new Error('bug');
    };
    await expect(connect('dev-b')).resolves.toBeUndefined();
  });
});
