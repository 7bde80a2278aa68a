// aedes-persistence-redis 11.x ships no type declarations; this covers what broker/ uses.
declare module 'aedes-persistence-redis' {
  import type { EventEmitter } from 'node:events';
  import type { Readable } from 'node:stream';
  import type { Redis, RedisOptions } from 'ioredis';

  namespace aedesPersistenceRedis {
    interface Options extends RedisOptions {
      /** Use this connection instead of creating one (it is disconnected by destroy()). */
      conn?: Redis;
      /** Offline messages delivered per CONNECT (default 1000). */
      maxSessionDelivery?: number;
      packetTTL?: (packet: unknown) => number;
    }

    interface Persistence extends EventEmitter {
      setup(broker: unknown): Promise<void>;
      destroy(): Promise<void>;
      // Properties, not methods: broker/persistence.ts replaces them on the instance.
      addSubscriptions: (client: { readonly id: string }, subs: readonly object[]) => Promise<unknown>;
      removeSubscriptions: (client: { readonly id: string }, topics: string[]) => Promise<unknown>;
      delWill: (client: unknown) => Promise<unknown>;
      storeRetained(packet: unknown): Promise<void>;
      createRetainedStreamCombi: (patterns: string[]) => Readable;
      // The offline queue; broker/outgoing-queue.ts replaces these.
      outgoingEnqueue: (sub: { readonly clientId: string }, packet: unknown) => Promise<void>;
      outgoingEnqueueCombi: (subs: ReadonlyArray<{ readonly clientId: string }> | null | undefined, packet: unknown) => Promise<void>;
      outgoingUpdate: (client: { readonly id: string }, packet: unknown) => Promise<void>;
      outgoingClearMessageId: (client: { readonly id: string }, packet: unknown) => Promise<unknown>;
      /** Removes every subscription of the client; aedes calls it for clean=true CONNECTs. */
      cleanSubscriptions: (client: { readonly id: string }) => Promise<void>;
      subscriptionsByClient(client: { readonly id: string }): Promise<Array<{ topic: string; qos: number }>>;
    }
  }

  function aedesPersistenceRedis(opts?: aedesPersistenceRedis.Options): aedesPersistenceRedis.Persistence;
  export = aedesPersistenceRedis;
}
