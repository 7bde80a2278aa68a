import type { Redis } from 'ioredis';
import type { Logger } from '../../shared/logger.js';
import type { Topics } from '../../shared/topics.js';
import type { ControllerConfig } from '../config.js';
import { RedisSessionControl } from '../mqtt/session-control.js';
import type { Keys } from '../registry/keys.js';
import { RedisBrokerCredentials, type BrokerCredentials } from './broker-credentials.js';
import { DynsecClient } from './dynsec-client.js';
import { DynsecBrokerCredentials } from './dynsec-credentials.js';
import { PendingSecrets } from './pending-secrets.js';

export interface BrokerCredentialsDeps {
  redis: Redis;
  keys: Keys;
  topics: Topics;
  logger: Logger;
  /** CA of the broker's certificate, for mqtts:// (DD-023). */
  ca?: Buffer;
}

/** The adapter the configuration names (DD-030). */
export function createBrokerCredentials(config: ControllerConfig, deps: BrokerCredentialsDeps): BrokerCredentials {
  if (config.brokerAdmin === 'outpost' || config.brokerAdminPassword === undefined) {
    return new RedisBrokerCredentials(deps.redis, deps.keys, new RedisSessionControl(deps.redis, config.keyPrefix));
  }
  const client = new DynsecClient(
    {
      brokerUrl: config.brokerUrl,
      username: config.brokerAdminUsername,
      password: config.brokerAdminPassword,
      clientId: `${config.clientId}:dynsec`,
      timeoutMs: config.brokerAdminTimeoutMs,
      ...(deps.ca ? { ca: deps.ca } : {}),
    },
    deps.logger,
  );
  return new DynsecBrokerCredentials({
    redis: deps.redis,
    keys: deps.keys,
    topics: deps.topics,
    client,
    pending: new PendingSecrets(deps.redis, deps.keys),
    service: { username: config.serviceUsername, password: config.servicePassword },
    logger: deps.logger,
    repairEveryMs: config.brokerAdminRepairIntervalSeconds * 1000,
  });
}
