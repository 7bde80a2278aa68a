import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChangeFeed, type FleetChange } from '../../controller/dashboard/change-feed.js';
import { notifyingPublisher } from '../../controller/dashboard/notifying-publisher.js';
import { silentLogger } from '../../shared/logger.js';
import { Topics } from '../../shared/topics.js';

describe('dashboard change feed (DD-042)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function feedWithListener(opts: { maxIds?: number } = {}): { feed: ChangeFeed; seen: FleetChange[] } {
    const feed = new ChangeFeed({ logger: silentLogger(), coalesceMs: 250, ...opts });
    const seen: FleetChange[] = [];
    feed.subscribe((c) => seen.push(c));
    return { feed, seen };
  }

  it('coalesces changes within the window into one notice, each id once', () => {
    const { feed, seen } = feedWithListener();
    feed.device('a');
    feed.device('b');
    feed.device('a');
    feed.rollout('r1');
    expect(seen).toEqual([]);
    vi.advanceTimersByTime(250);
    expect(seen).toEqual([{ devices: ['a', 'b'], rollouts: ['r1'], truncated: false }]);
    feed.device('c');
    vi.advanceTimersByTime(250);
    expect(seen[1]).toEqual({ devices: ['c'], rollouts: [], truncated: false });
  });

  it('says truncated instead of listing more than maxIds', () => {
    const { feed, seen } = feedWithListener({ maxIds: 3 });
    for (const id of ['a', 'b', 'c', 'd']) feed.device(id);
    vi.advanceTimersByTime(250);
    expect(seen).toEqual([{ devices: [], rollouts: [], truncated: true }]);
  });

  it('keeps nothing without listeners, and a throwing listener does not stop the others', () => {
    const feed = new ChangeFeed({ logger: silentLogger(), coalesceMs: 10 });
    feed.device('before');
    const seen: FleetChange[] = [];
    feed.subscribe(() => {
      throw new Error('boom');
    });
    const unsubscribe = feed.subscribe((c) => seen.push(c));
    feed.device('after');
    vi.advanceTimersByTime(10);
    expect(seen).toEqual([{ devices: ['after'], rollouts: [], truncated: false }]);
    unsubscribe();
    expect(feed.listenerCount).toBe(1);
    feed.close();
    expect(feed.listenerCount).toBe(0);
  });

  it('the notifying publisher names the device of a desired document and the rollout of a status, after the publish succeeded', async () => {
    const topics = new Topics();
    const { feed, seen } = feedWithListener();
    const published: string[] = [];
    let fail = false;
    const pub = notifyingPublisher(
      {
        publish: async (topic) => {
          if (fail) throw new Error('broker down');
          published.push(topic);
        },
      },
      topics,
      feed,
    );
    await pub.publish(topics.desired('dev-1'), '{}', { retain: true, qos: 1 });
    await pub.publish(topics.rolloutStatus('ro-1'), '{}', { retain: true, qos: 1 });
    await pub.publish(topics.commands('dev-2'), '{}', { retain: false, qos: 1 });
    fail = true;
    await expect(pub.publish(topics.desired('dev-3'), '{}', { retain: true, qos: 1 })).rejects.toThrow('broker down');
    vi.advanceTimersByTime(250);
    expect(published).toHaveLength(3);
    expect(seen).toEqual([{ devices: ['dev-1'], rollouts: ['ro-1'], truncated: false }]);
  });
});
