import type { Topics } from '../../shared/topics.js';
import type { ServicePublisher } from '../mqtt/service-publisher.js';
import type { ChangeFeed } from './change-feed.js';

/**
 * The controller's publisher, telling the change feed (DD-042) which device
 * got a new desired document and which rollout a new status, once the
 * broker has acknowledged it. Everything else passes through untouched.
 */
export function notifyingPublisher(inner: ServicePublisher, topics: Topics, changes: ChangeFeed): ServicePublisher {
  return {
    async publish(topic, payload, opts) {
      await inner.publish(topic, payload, opts);
      const device = topics.parseDevice(topic);
      if (device?.channel === 'desired') {
        changes.device(device.deviceId);
        return;
      }
      const rolloutId = topics.parseRolloutStatus(topic);
      if (rolloutId !== null) changes.rollout(rolloutId);
    },
  };
}
