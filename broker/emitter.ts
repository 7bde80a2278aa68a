import { EventEmitter } from 'node:events';
import mqemitter from 'mqemitter';
import mqemitterRedis from 'mqemitter-redis';
import type { Logger } from '../shared/logger.js';
import type { BrokerConfig } from './config.js';
import { ForgivingRedis } from './forgiving-redis.js';
import { RedisOutageLog } from './redis-outage-log.js';

export type Emitter = ReturnType<typeof mqemitter> | ReturnType<typeof mqemitterRedis>;

/**
 * The emitter aedes hands every PUBLISH to. `redis`: mqemitter-redis, so
 * every broker process on the same Redis delivers to its own clients (the
 * aedes way to run several); each subscribed topic is a Redis channel.
 * `local`: aedes's in-process mqemitter, for a single broker process.
 */
export function createEmitter(config: Pick<BrokerConfig, 'emitter' | 'redisUrl' | 'concurrency'>, logger: Logger): Emitter {
  // aedes's default emitter sets matchEmptyLevels [MQTT-4.7.1-3]; a custom one must too.
  if (config.emitter === 'local') return mqemitter({ concurrency: config.concurrency, matchEmptyLevels: true });
  // Own connections, because mqemitter-redis leaves the promise of its QUIT
  // on close unhandled (ForgivingRedis), and so that commands wait out a
  // Redis outage like persistence's do: a SUBSCRIBE that failed during one
  // would not be restored by ioredis afterwards, leaving a subscription that
  // silently receives nothing.
  const emitterRedis = { maxRetriesPerRequest: null };
  const mq = mqemitterRedis({
    subConn: new ForgivingRedis(config.redisUrl, emitterRedis),
    pubConn: new ForgivingRedis(config.redisUrl, { ...emitterRedis, enableAutoPipelining: true }),
    concurrency: config.concurrency,
    matchEmptyLevels: true,
  });
  // mqemitter-redis re-emits its connections' errors here; without a listener
  // the first Redis blip would be an unhandled 'error' event and kill the process.
  const mqLog = new RedisOutageLog(logger, 'emitter');
  const mqState = emitterState(mq);
  mqState.on('error', (err: unknown) => mqLog.failed(err));
  mqState.on('pubConnect', () => mqLog.recovered());
  return mq;
}

/** mqemitter-redis 7 reports Redis errors on `mq.state`, which its types do not declare. */
function emitterState(mq: object): EventEmitter {
  const state: unknown = Reflect.get(mq, 'state');
  if (!(state instanceof EventEmitter)) throw new Error('mqemitter-redis has no `state` emitter: check the installed version');
  return state;
}
