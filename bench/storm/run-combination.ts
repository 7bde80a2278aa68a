import mqtt from 'mqtt';
import { Topics } from '../../shared/topics.js';
import { agentFleet } from './agent-fleet.js';
import type { ClientFleet, ClientKind, FleetContext } from './client-fleet.js';
import { stormDocument } from './document.js';
import { memoryFigures, stormResult, type StormResult } from './measure.js';
import type { StormOptions } from './options.js';
import { inBatches, treeCpuSeconds, waitUntil } from './processes.js';
import { rawClientFleet } from './raw-clients.js';
import { redisFigures } from './redis-proxy.js';
import type { Target } from './target.js';

const VERSION = 1;
/** Late duplicates arrive shortly after convergence: the counters are read this long after it. */
const SETTLE_MS = 1000;

function fleetFor(kind: ClientKind, ctx: FleetContext, o: StormOptions): ClientFleet {
  return kind === 'raw' ? rawClientFleet(ctx) : agentFleet(ctx, Math.min(o.agentWorkers, ctx.ids.length));
}

/**
 * One combination on a fresh target: enrol, persistent sessions, everyone
 * away, one retained QoS 1 document per device published as the service
 * identity, then the storm. Memory is sampled with the broker empty, with
 * the sessions stored and none connected, and with all connected and idle.
 */
export async function runCombination(start: () => Promise<Target>, clients: ClientKind, o: StormOptions): Promise<StormResult> {
  const n = o.devices;
  const target = await start();
  const ids = Array.from({ length: n }, (_, i) => `storm-${String(i).padStart(6, '0')}`);
  const issuedAt = new Date().toISOString();
  const docs = new Map(ids.map((id) => [id, stormDocument(id, VERSION, issuedAt)]));
  let fleet: ClientFleet | undefined;
  try {
    const topics = new Topics();
    // One connection and publish first, so that the empty broker's figure has its code paths loaded.
    const warm = await mqtt.connectAsync(target.url, { clientId: 'svc:storm-warm-up', ...target.service, protocolVersion: 4, reconnectPeriod: 0 });
    await warm.publishAsync(`${topics.prefix}/storm-warm-up`, 'x', { qos: 1 });
    await warm.endAsync();
    const empty = await target.memory();
    let t = performance.now();
    const secrets = await target.enroll(ids);
    const enrolS = (performance.now() - t) / 1000;
    // After enrolment: a target may have restarted on another port for it (dynsec-setup file).
    const ctx: FleetContext = { url: target.url, ids, document: (id) => docs.get(id) ?? '', version: VERSION, connackTimeoutMs: o.connackTimeoutMs, will: o.will };
    fleet = fleetFor(clients, ctx, o);
    t = performance.now();
    await fleet.setup(secrets);
    const sessionsS = (performance.now() - t) / 1000;

    t = performance.now();
    const svc = await mqtt.connectAsync(target.url, { clientId: 'svc:storm', ...target.service, protocolVersion: 4, reconnectPeriod: 0 });
    await inBatches(ids, 500, (id) => svc.publishAsync(topics.desired(id), ctx.document(id), { qos: 1, retain: true }).then(() => undefined));
    await svc.endAsync();
    await target.waitQueued(ids);
    const publishS = (performance.now() - t) / 1000;

    const stored = await target.memory();
    const cpu0 = treeCpuSeconds(target.pid);
    const redis0 = await target.redis();
    const observation = await fleet.storm(o.deadlineS * 1000);
    const allMs = observation.converged.size >= n ? Math.max(...observation.converged.values()) : null;
    const settle = Date.now() + SETTLE_MS;
    await waitUntil('settle', () => Date.now() > settle, SETTLE_MS * 2);
    const cpu1 = treeCpuSeconds(target.pid);
    const redis1 = await target.redis();
    const connected = await target.memory();
    await observation.finish();
    return stormResult({
      target: target.kind,
      label: target.label,
      clients,
      devices: n,
      setup: { enrolS: Number(enrolS.toFixed(1)), sessionsS: Number(sessionsS.toFixed(1)), publishS: Number(publishS.toFixed(1)) },
      observation,
      allMs,
      brokerCpuS: cpu1 - cpu0,
      redis: redis0 && redis1 ? redisFigures(redis0, redis1, n) : null,
      memory: memoryFigures(empty, stored, connected, n),
    });
  } catch (err) {
    process.stderr.write(`${target.label} output:\n${target.output()}\n`);
    throw err;
  } finally {
    await fleet?.close();
    await target.stop();
  }
}
