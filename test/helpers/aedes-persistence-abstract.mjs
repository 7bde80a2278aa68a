// aedes-persistence's own abstract suite (the one every aedes persistence
// passes), run by `node --test` against Outpost's persistence as built in
// dist/, on the Redis at REDIS_URL (flushed before every test); with STORE_KEY
// (32 bytes, base64) every stored packet is sealed with it (DD-047).
// test/integration/broker-persistence-abstract.test.ts starts the Redis and runs this.
import { createRequire } from 'node:module';
import { once } from 'node:events';
import test from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { OutpostPersistence } from '../../dist/broker/persistence/outpost-persistence.js';
import { PacketSeal } from '../../dist/broker/persistence/packet-seal.js';

const require = createRequire(import.meta.url);
const abstract = require('aedes-persistence/abstract.js');
const mqemitterRedis = require('mqemitter-redis');

const url = process.env.REDIS_URL;
if (!url) throw new Error('REDIS_URL is required');
const seal = process.env.STORE_KEY ? new PacketSeal(Buffer.from(process.env.STORE_KEY, 'base64')) : undefined;

function buildEmitter() {
  return mqemitterRedis({ connectionString: url });
}

async function build() {
  const admin = new Redis(url);
  await once(admin, 'ready');
  await admin.flushall();
  admin.disconnect();
  const instance = new OutpostPersistence({
    redis: new Redis(url, { maxRetriesPerRequest: null }),
    keyPrefix: 'abstract:',
    logger: pino({ level: 'silent' }),
    ...(seal ? { seal } : {}),
  });
  // As aedes-persistence-redis's own runner does: destroying the instance closes its test broker's emitter too.
  const destroy = instance.destroy.bind(instance);
  instance.destroy = async () => {
    await destroy();
    await new Promise((resolve) => instance.broker.mq.close(resolve));
  };
  return instance;
}

abstract({ test, buildEmitter, persistence: build, testAsync: true });
