import type { Logger } from '../../shared/logger.js';
import { errorMessage } from '../../shared/errors.js';
import { PROTOCOL_VERSION } from '../../shared/schemas/common.js';
import type { ControllerTime } from '../../shared/schemas/controller-time.js';
import type { Presence } from '../../shared/schemas/presence.js';
import type { Topics } from '../../shared/topics.js';
import type { ServicePublisher } from '../mqtt/service-publisher.js';

/**
 * DD-052: every `online` presence the controller stores is answered with its
 * clock on the device's clock topic, QoS 0 and not retained: never queued for
 * an offline session, so a copy that arrives is fresh. One small message per
 * device connection; an agent older than DD-052 does not subscribe, and the
 * broker drops it. Never throws: a reply that cannot be sent waits for the
 * device's next connection.
 */
export class ClockReply {
  constructor(
    private readonly deps: {
      topics: Topics;
      publisher: () => ServicePublisher;
      now: () => number;
      logger: Logger;
    },
  ) {}

  presence(p: Presence): void {
    if (p.status !== 'online') return;
    const msg: ControllerTime = { protocol: PROTOCOL_VERSION, deviceId: p.deviceId, at: new Date(this.deps.now()).toISOString(), epoch: p.epoch };
    this.deps
      .publisher()
      .publish(this.deps.topics.clock(p.deviceId), JSON.stringify(msg), { qos: 0, retain: false })
      .catch((err: unknown) => this.deps.logger.debug({ deviceId: p.deviceId, err: errorMessage(err) }, 'controller time not sent'));
  }
}
