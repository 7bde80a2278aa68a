/**
 * Benchmark (issue 11): what one device costs on a metered link, and the
 * agent's memory. A real agent (Docker runtime, its own defaults and
 * profile: `--profile default` and `--profile cellular`) reaches a real
 * Outpost broker through a byte-counting relay (test/helpers/mqtt-relay.ts)
 * that parses every MQTT packet both ways. Per profile:
 *   update     three workloads replaced (a new env value each), from the
 *              controller's PUBLISH until the link is quiet after the
 *              converged report (`--updates` of them; the median is used);
 *   reconnect  the link cut once, from the new connection until quiet: TCP
 *              and MQTT session, presence, the retained desired re-delivered,
 *              the report;
 *   keepalive  the interval the agent put in its CONNECT; a ping is 4 bytes
 *              of MQTT (PINGREQ + PINGRESP), three segments on IP;
 *   telemetry  `--telemetry-samples` samples taken with a 1 s interval (the
 *              profile's own interval sets how many a month): the first of a
 *              connection is full, the others deltas (DD-038); a day sends a
 *              full one per connection and every 24th, deltas otherwise.
 * MQTT level is exact. IP level is estimated from the relayed chunks (each one
 * write, about one TCP segment): 52 bytes of IPv4 + TCP headers per segment,
 * a pure ACK for every segment not answered within 40 ms, a 172-byte TCP open
 * per connection; with TLS, 22 bytes per record and the handshake measured
 * with Node's TLS and the fleet's certificate (bench/link/tls-handshake.ts).
 * The month: 30 days, one update a week, one reconnect a day.
 * Memory (VmRSS, MiB): the agent's RSS idle with three workloads (after the
 * last update), its peak during the updates (sampled every 100 ms), its
 * high-water mark since start (VmHWM), and the RSS after each update (slope
 * per update).
 *
 * Time: each update from the controller's PUBLISH to the converged report (`updates.ms`).
 * A slow, lossy link (issue 13, F7): `--delay-ms 300 --loss 0.02` puts a
 * userspace proxy (test/helpers/lossy-link.ts) between the agent and the relay:
 * each segment that much later each way, each lost with that rate and
 * delivered after a retransmission time-out, what follows held behind it,
 * seeded by `--seed`. Loss moves time, not MQTT bytes (TCP resends below MQTT);
 * the rate (tc tbf) needs a network namespace and is in the F7 test only.
 *
 * Usage: node dist/bench/agent-link.js [--profiles default,cellular] [--updates 3] [--telemetry-samples 4] [--delay-ms 0] [--loss 0] [--seed 1]
 */
import { parseArgs } from 'node:util';
import { readPeakRssBytes, readRssBytes, sampleRss } from './lib/process-rss.js';
import { monthlyBudget, updateMinimum, type Budget, type ProfileMeasurement } from './link/budget.js';
import { measureTlsHandshake, type HandshakeBytes } from './link/tls-handshake.js';
import { estimateIp, ledgerOf, ledgerTotal, type Ledger } from './link/traffic.js';
import { startAedesFixture } from '../test/helpers/brokers.js';
import { makeTestPki } from '../test/helpers/certs.js';
import { createDeviceRig, type DeviceRig } from '../test/helpers/device-rig.js';
import { ensureStandardTestImages } from '../test/helpers/images.js';
import { startLossyLink, type LossyLink } from '../test/helpers/lossy-link.js';
import { startMqttRelay, type MqttRelay } from '../test/helpers/mqtt-relay.js';
import { threeWorkloads } from '../test/helpers/relayed-rig.js';
import { connectTestController, type TestController } from '../test/helpers/test-controller.js';
import { waitFor } from '../test/helpers/wait-for.js';
import type { BrokerFixture } from '../test/helpers/brokers.js';

const PROFILES = { default: { telemetryIntervalS: 300, reportDelayMs: 1000 }, cellular: { telemetryIntervalS: 3600, reportDelayMs: 5000 } } as const;
type Profile = keyof typeof PROFILES;

/** The issue's yardstick: one desired (3 workloads) + one report + PUBACKs, 2.78 KB before compaction. */
const ISSUE_MINIMUM_BYTES = 2780;

interface UpdateSample {
  ledger: Ledger;
  chunks: MqttRelay['chunks'];
  /** The last report's PUBLISH, bytes. */
  reportBytes: number;
  reports: number;
  events: number;
}

interface ProfileResult {
  measurement: ProfileMeasurement;
  budget: Budget;
  updates: { bytes: number[]; medianBytes: number; ms: number[]; medianMs: number; minimumBytes: number; ratioToMinimum: number; ratioToIssueMinimum: number; reports: number; events: number };
  reconnectBytes: number;
  telemetry: { samples: number[] };
  /** With --delay-ms/--loss: the lossy link's model and what it lost over the profile's whole run. */
  link?: { delayMs: number; lossRate: number; rtoMs: number; seed: number; segments: { up: number; down: number }; lostTransmissions: { up: number; down: number } };
  rss: {
    /** After the first deployment converged: the process still holds its start-up garbage. */
    firstConvergedMiB: number;
    /** Idle with three workloads: the link quiet after the last update. */
    idleMiB: number;
    /** Highest RSS sampled (every 100 ms) during the updates. */
    peakMiB: number;
    /** VmHWM: the kernel's high-water mark since the process started (its first apply included). */
    highWaterMiB: number;
    idleAfterEachUpdateMiB: number[];
    slopeKiBPerUpdate: number;
  };
}

const MiB = 2 ** 20;
const round1 = (x: number): number => Math.round(x * 10) / 10;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** Resolves once the relay has carried nothing for `quietMs`. */
async function quiet(relay: MqttRelay, quietMs: number): Promise<void> {
  let seen = -1;
  while (seen !== relay.chunks.length) {
    seen = relay.chunks.length;
    await new Promise((resolve) => setTimeout(resolve, quietMs));
  }
}

function snapshot(relay: MqttRelay): { packets: MqttRelay['packets']; chunks: MqttRelay['chunks'] } {
  return { packets: [...relay.packets], chunks: [...relay.chunks] };
}

async function measureProfile(
  profile: Profile,
  ctx: { broker: BrokerFixture; controller: TestController; tls: HandshakeBytes },
  opts: { updates: number; telemetrySamples: number; link: { delayMs: number; lossRate: number; seed: number } },
): Promise<ProfileResult> {
  const relay = await startMqttRelay(Number(new URL(ctx.broker.url).port));
  const lossy: LossyLink | undefined =
    opts.link.delayMs > 0 || opts.link.lossRate > 0 ? await startLossyLink({ targetPort: Number(new URL(relay.url).port), ...opts.link }) : undefined;
  const brokerUrl = lossy ? `mqtt://127.0.0.1:${lossy.port}` : relay.url;
  const rig: DeviceRig = await createDeviceRig(ctx.broker, ctx.controller, `link-${profile}`);
  const quietMs = PROFILES[profile].reportDelayMs + 1500;
  try {
    const agent = await rig.startAgent({ brokerUrl, profile, timings: 'agent' });
    const pid = agent.pid ?? 0;
    await rig.publish(1, threeWorkloads('1'));
    await rig.converged(1, 120_000);
    await quiet(relay, quietMs);
    const keepaliveS = relay.packets.find((p) => p.cmd === 'connect')?.keepalive ?? 0;
    const idleRss = await readRssBytes(pid);

    const samples: UpdateSample[] = [];
    const updateMs: number[] = [];
    const idleAfter: number[] = [];
    const peak = sampleRss(pid);
    for (let i = 0; i < opts.updates; i += 1) {
      const version = i + 2;
      relay.reset();
      const startedAt = Date.now();
      await rig.publish(version, threeWorkloads(String(version)));
      await rig.converged(version, 120_000);
      updateMs.push(Date.now() - startedAt);
      await quiet(relay, quietMs);
      const { packets, chunks } = snapshot(relay);
      const reports = packets.filter((p) => p.direction === 'up' && p.cmd === 'publish' && p.topic?.endsWith('/reported'));
      samples.push({
        ledger: ledgerOf(packets),
        chunks,
        reportBytes: reports.at(-1)?.bytes ?? 0,
        reports: reports.length,
        events: packets.filter((p) => p.direction === 'up' && p.cmd === 'publish' && p.topic?.endsWith('/events')).length,
      });
      idleAfter.push(await readRssBytes(pid));
    }
    const peakRss = (await peak.stop()).peakBytes;
    const highWater = await readPeakRssBytes(pid);
    const totals = samples.map((s) => ledgerTotal(s.ledger));
    const mid = samples.find((s) => ledgerTotal(s.ledger) === median(totals)) as UpdateSample;

    // Reconnect: the link drops; counted from the new connection until the link is quiet again.
    relay.reset();
    relay.cut();
    await waitFor(() => relay.publishes('up', '/presence').some((p) => p.payload?.includes('"online"') === true), {
      timeoutMs: 120_000,
      description: 'the agent back online',
    });
    await quiet(relay, quietMs);
    const reconnect = snapshot(relay);
    const reconnectLedger = ledgerOf(reconnect.packets);

    // Telemetry: the same agent and profile, sampling every second.
    await rig.stopAgent();
    relay.reset();
    await rig.startAgent({ brokerUrl, profile, timings: 'agent', extraArgs: ['--telemetry-interval', '1'] });
    await waitFor(() => relay.publishes('up', '/telemetry').length >= opts.telemetrySamples, { timeoutMs: 60_000, description: 'telemetry samples' });
    const telemetrySizes = relay.publishes('up', '/telemetry').slice(0, opts.telemetrySamples).map((p) => p.bytes);
    // A day sends a full sample on its connection (one reconnect a day) and every 24th sample (DD-038), deltas otherwise.
    const perDay = 86_400 / PROFILES[profile].telemetryIntervalS;
    const first = telemetrySizes[0] ?? 0;
    const rest = telemetrySizes.slice(1);
    const later = rest.length ? rest.reduce((a, b) => a + b, 0) / rest.length : first;
    const fullPerDay = Math.min(perDay, 1 + perDay / 24);
    const telemetryMqtt = (first * fullPerDay + later * (perDay - fullPerDay)) / perDay;
    const telemetryIp = estimateIp([{ direction: 'up', bytes: telemetryMqtt, at: 0 }]);

    const pingIp = estimateIp([
      { direction: 'up', bytes: 2, at: 0 },
      { direction: 'down', bytes: 2, at: 1 },
    ]);
    const measurement: ProfileMeasurement = {
      profile,
      keepaliveS,
      ping: { mqtt: 4, ip: pingIp.tcpBytes, tls: pingIp.tlsBytes },
      telemetryIntervalS: PROFILES[profile].telemetryIntervalS,
      telemetry: { mqtt: telemetryMqtt, ip: telemetryIp.tcpBytes, tls: telemetryIp.tlsBytes },
      update: { ledger: mid.ledger, ip: estimateIp(mid.chunks) },
      reconnect: { ledger: reconnectLedger, ip: estimateIp(reconnect.chunks), tcpOpen: 172 * Math.max(1, relay.connections), tlsHandshake: ctx.tls.total },
    };
    const minimum = updateMinimum(mid.ledger, mid.reportBytes);
    const slope = idleAfter.length > 1 ? ((idleAfter.at(-1) as number) - (idleAfter[0] as number)) / (idleAfter.length - 1) : 0;
    return {
      measurement,
      budget: monthlyBudget(measurement),
      updates: {
        bytes: totals,
        medianBytes: median(totals),
        ms: updateMs,
        medianMs: median(updateMs),
        minimumBytes: minimum,
        ratioToMinimum: Math.round((median(totals) / minimum) * 100) / 100,
        ratioToIssueMinimum: Math.round((median(totals) / ISSUE_MINIMUM_BYTES) * 100) / 100,
        reports: mid.reports,
        events: mid.events,
      },
      reconnectBytes: ledgerTotal(reconnectLedger),
      ...(lossy
        ? (() => {
            const st = lossy.stats();
            return {
              link: {
                ...opts.link,
                rtoMs: lossy.model.rtoMs,
                segments: { up: st.up.segments, down: st.down.segments },
                lostTransmissions: { up: st.up.lost, down: st.down.lost },
              },
            };
          })()
        : {}),
      telemetry: { samples: telemetrySizes },
      rss: {
        firstConvergedMiB: round1(idleRss / MiB),
        idleMiB: round1((idleAfter.at(-1) ?? idleRss) / MiB),
        peakMiB: round1(peakRss / MiB),
        highWaterMiB: round1(highWater / MiB),
        idleAfterEachUpdateMiB: idleAfter.map((b) => round1(b / MiB)),
        slopeKiBPerUpdate: Math.round(slope / 1024),
      },
    };
  } finally {
    await rig.dispose();
    await lossy?.close();
    await relay.close();
  }
}

const kb = (bytes: number): string => (bytes / 1000).toFixed(1);
const mb = (bytes: number): string => (bytes / 1e6).toFixed(3);

function tables(results: Record<string, ProfileResult>, tls: HandshakeBytes): string {
  const names = Object.keys(results);
  const lines: string[] = [];
  // By purpose, as balena publishes it: MQTT level, then the totals at IP level.
  lines.push('| MB per device per month, by purpose | ' + names.join(' | ') + ' |');
  lines.push('|---|' + names.map(() => '---:').join('|') + '|');
  const purposes = [
    ['keepalive', 'keepalive pings'],
    ['telemetry', 'telemetry'],
    ['reported', 'reports'],
    ['events', 'events'],
    ['desired', 'desired documents'],
    ['presence', 'presence'],
    ['session', 'MQTT session (CONNECT, SUBSCRIBE, …)'],
  ] as const;
  for (const [category, label] of purposes) {
    lines.push(`| ${label} | ${names.map((n) => mb((results[n] as ProfileResult).budget.byCategory[category])).join(' | ')} |`);
  }
  lines.push(`| **total, MQTT level** | ${names.map((n) => `**${mb((results[n] as ProfileResult).budget.monthly.total.mqtt)}**`).join(' | ')} |`);
  lines.push(`| total, IP level (TCP/IP headers, ACKs, connection setup) | ${names.map((n) => mb((results[n] as ProfileResult).budget.monthly.total.ip)).join(' | ')} |`);
  lines.push(`| total, IP level with TLS (records, a handshake per connection) | ${names.map((n) => mb((results[n] as ProfileResult).budget.monthly.total.tls)).join(' | ')} |`);
  lines.push('');
  lines.push('| MB per device per month, by episode | ' + names.map((n) => `${n}: MQTT | ${n}: IP | ${n}: IP + TLS`).join(' | ') + ' |');
  lines.push('|---|' + names.map(() => '---:|---:|---:').join('|') + '|');
  for (const row of ['keepalive', 'telemetry', 'weekly update', 'daily reconnect', 'total'] as const) {
    const cells = names.map((n) => {
      const r = (results[n] as ProfileResult).budget.monthly[row];
      return `${mb(r.mqtt)} | ${mb(r.ip)} | ${mb(r.tls)}`;
    });
    lines.push(`| ${row === 'total' ? '**total**' : row} | ${cells.join(' | ')} |`);
  }
  lines.push('');
  lines.push('| per profile | ' + names.join(' | ') + ' |');
  lines.push('|---|' + names.map(() => '---:').join('|') + '|');
  const row = (label: string, f: (r: ProfileResult) => string): void => {
    lines.push(`| ${label} | ${names.map((n) => f(results[n] as ProfileResult)).join(' | ')} |`);
  };
  row('keepalive (s)', (r) => String(r.measurement.keepaliveS));
  row('telemetry interval (s)', (r) => String(r.measurement.telemetryIntervalS));
  row('idle KB/day (MQTT / IP / IP+TLS)', (r) => `${kb(r.budget.idlePerDay.mqtt)} / ${kb(r.budget.idlePerDay.ip)} / ${kb(r.budget.idlePerDay.tls)}`);
  row('update: MQTT bytes (median)', (r) => String(r.updates.medianBytes));
  row('update: ms to converged (median)', (r) => String(r.updates.medianMs));
  row('update: reports / events', (r) => `${r.updates.reports} / ${r.updates.events}`);
  row('update: MQTT minimum (desired + 1 report + PUBACKs)', (r) => String(r.updates.minimumBytes));
  row('update ÷ minimum (÷ issue 11\'s 2.78 KB)', (r) => `${r.updates.ratioToMinimum} (${r.updates.ratioToIssueMinimum})`);
  row('reconnect: MQTT bytes', (r) => String(r.reconnectBytes));
  row('telemetry message bytes (first, then)', (r) => r.telemetry.samples.join(', '));
  row('agent RSS idle / peak in updates / high-water since start (MiB)', (r) => `${r.rss.idleMiB} / ${r.rss.peakMiB} / ${r.rss.highWaterMiB}`);
  row('agent RSS after the first deployment (MiB)', (r) => String(r.rss.firstConvergedMiB));
  row('agent RSS after each update (MiB)', (r) => r.rss.idleAfterEachUpdateMiB.join(', '));
  lines.push('');
  lines.push(`TLS handshake (Node, fleet certificate, TLS 1.3 with session tickets): ${tls.up} B up + ${tls.down} B down per connection.`);
  lines.push('');
  lines.push('| update, MQTT bytes by purpose | ' + names.join(' | ') + ' |');
  lines.push('|---|' + names.map(() => '---:').join('|') + '|');
  for (const c of ['desired', 'reported', 'events', 'presence', 'session', 'keepalive', 'telemetry', 'commands'] as const) {
    lines.push(`| ${c} | ${names.map((n) => `${(results[n] as ProfileResult).measurement.update.ledger[c].bytes} (${(results[n] as ProfileResult).measurement.update.ledger[c].messages})`).join(' | ')} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      profiles: { type: 'string', default: 'default,cellular' },
      updates: { type: 'string', default: '3' },
      'telemetry-samples': { type: 'string', default: '4' },
      'delay-ms': { type: 'string', default: '0' },
      loss: { type: 'string', default: '0' },
      seed: { type: 'string', default: '1' },
    },
  });
  const profiles = (values.profiles ?? '').split(',').map((p) => p.trim()) as Profile[];
  for (const p of profiles) if (!(p in PROFILES)) throw new Error(`unknown profile ${p} (known: ${Object.keys(PROFILES).join(', ')})`);
  const updates = Number(values.updates);
  const telemetrySamples = Number(values['telemetry-samples']);
  if (!Number.isInteger(updates) || updates < 1) throw new Error('--updates must be an integer ≥ 1');
  if (!Number.isInteger(telemetrySamples) || telemetrySamples < 2) throw new Error('--telemetry-samples must be an integer ≥ 2');
  const link = { delayMs: Number(values['delay-ms']), lossRate: Number(values.loss), seed: Number(values.seed) };
  if (!Number.isFinite(link.delayMs) || link.delayMs < 0) throw new Error('--delay-ms must be a number ≥ 0');
  if (!Number.isFinite(link.lossRate) || link.lossRate < 0 || link.lossRate >= 1) throw new Error('--loss must be a rate in [0, 1), e.g. 0.02');
  if (!Number.isInteger(link.seed)) throw new Error('--seed must be an integer');

  await ensureStandardTestImages();
  const pki = await makeTestPki();
  const broker = await startAedesFixture();
  const controller = await connectTestController(broker.url, broker.serviceAuth);
  try {
    const tls = await measureTlsHandshake(pki);
    const results: Record<string, ProfileResult> = {};
    for (const profile of profiles) results[profile] = await measureProfile(profile, { broker, controller, tls }, { updates, telemetrySamples, link });
    const out = {
      benchmark: 'agent-link',
      tlsHandshake: tls,
      profiles: results,
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n\n`);
    process.stdout.write(`${tables(results, tls)}\n`);
  } finally {
    await controller.close();
    await broker.stop();
    await pki.remove();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
