import { Redis } from 'ioredis';

/**
 * ioredis connection whose command promises never surface as unhandled
 * rejections. Libraries on top fire some commands and forget them:
 * aedes-persistence-redis (`lrem`/`rpush` in putWill and delWill, `lrem`
 * while streaming the offline queue) and mqemitter-redis (`quit` on close).
 * When Redis is unreachable or the connection is closing, their rejections
 * would be unhandled, which kills a Node 20 process. Callers that
 * await a command still see its rejection: marking a promise handled does
 * not swallow it for anyone else.
 */
export class ForgivingRedis extends Redis {
  override sendCommand(...args: Parameters<Redis['sendCommand']>): unknown {
    const result = super.sendCommand(...args);
    if (result instanceof Promise) result.catch(() => undefined);
    return result;
  }
}
