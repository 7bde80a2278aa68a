/**
 * A worker process of the storm's simulated agents: the real agent core over
 * the simulated container runtime (cli/sim/sim-device.ts, as `outpost sim`
 * runs it, DD-029), with the MQTT client wrapped to time what happens on the
 * wire: SUBACK, the document's arrival, the agent's desired.received event
 * and its report of the version as applied. Events are sent to the parent in
 * batches; their timestamps are taken when they happen.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { parseSimulationConfig } from '../../agent/runtime/simulation/sim-config.js';
import { startSimDevice, type SimDevice } from '../../cli/sim/sim-device.js';
import { errorMessage } from '../../shared/errors.js';
import { createLogger } from '../../shared/logger.js';
import { Topics } from '../../shared/topics.js';
import { FromAgentWorker, ToAgentWorker, type AgentEvent } from './agent-messages.js';
import { nowMs } from './processes.js';

const FLUSH_EVERY_MS = 100;
const START_CONCURRENCY = 50;

const topics = new Topics();
const logger = createLogger({ level: 'error', name: 'storm-agent-worker' });
const devices: SimDevice[] = [];
let pending: AgentEvent[] = [];
let connackTimeouts = 0;
let closedBeforeConnack = 0;
let flushTimer: NodeJS.Timeout | undefined;
let stopping: Promise<void> | null = null;

function send(message: FromAgentWorker): void {
  if (process.connected) process.send?.(FromAgentWorker.parse(message));
}

function flush(): void {
  if (pending.length === 0) return;
  send({ type: 'events', events: pending });
  pending = [];
}

function parsed(payload: Buffer | string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(payload.toString());
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The document's version; a report's desired.appliedVersion. */
function versionOf(payload: Buffer | string): unknown {
  return parsed(payload).version;
}
function appliedVersionOf(payload: Buffer | string): number {
  const desired = parsed(payload).desired;
  const v = typeof desired === 'object' && desired !== null ? (desired as Record<string, unknown>).appliedVersion : null;
  return typeof v === 'number' ? v : 0;
}

/** MQTT.js client of one agent, instrumented; what the agent does with it is unchanged. */
function instrumented(version: number, connackTimeoutMs: number) {
  return (url: string, options: IClientOptions): MqttClient => {
    const id = options.clientId ?? '';
    const client = mqtt.connect(url, { ...options, writeCache: false, connectTimeout: connackTimeoutMs });
    let connected = false;
    let applied = false;
    client.on('connect', () => (connected = true));
    client.on('close', () => {
      if (!connected) closedBeforeConnack += 1;
      connected = false;
    });
    client.on('error', (err) => {
      if (err.message === 'connack timeout') connackTimeouts += 1;
    });
    client.on('packetreceive', (packet) => {
      if (packet.cmd === 'suback') pending.push({ kind: 'subscribed', id, at: nowMs() });
      else if (packet.cmd === 'publish' && packet.topic === topics.desired(id) && versionOf(packet.payload) === version) pending.push({ kind: 'received', id, at: nowMs() });
    });
    const publish = client.publish.bind(client) as (topic: string, message: string | Buffer, ...rest: unknown[]) => MqttClient;
    (client as { publish: unknown }).publish = (topic: string, message: string | Buffer, ...rest: unknown[]): MqttClient => {
      if (!applied && topic === topics.reported(id) && appliedVersionOf(message) >= version) {
        applied = true;
        pending.push({ kind: 'applied', id, at: nowMs() });
      } else if (topic === topics.events(id)) {
        const e = parsed(message);
        if (e.type === 'desired.received' && e.version === version) pending.push({ kind: 'accepted', id, at: nowMs() });
      }
      return publish(topic, message, ...rest);
    };
    return client;
  };
}

async function start(m: Extract<ToAgentWorker, { type: 'start' }>): Promise<void> {
  const simulation = parseSimulationConfig({ seed: 1, pullLatencyMs: 0, startLatencyMs: 0 });
  const agent = { brokerUrl: m.brokerUrl, insecurePlaintext: false, telemetryIntervalSeconds: 0, logLevel: 'error' as const };
  const connect = instrumented(m.version, m.connackTimeoutMs);
  flushTimer = setInterval(flush, FLUSH_EVERY_MS);
  const queue = [...m.devices];
  const next = async (): Promise<void> => {
    for (let d = queue.shift(); d && !stopping; d = queue.shift()) {
      try {
        devices.push(await startSimDevice(d, { stateRoot: m.stateRoot, agent, simulation, logger, connect }));
      } catch (err) {
        send({ type: 'failed', message: `${d.id}: ${errorMessage(err)}` });
      }
    }
  };
  await Promise.all(Array.from({ length: START_CONCURRENCY }, next));
  send({ type: 'started' });
}

function stop(): Promise<void> {
  stopping ??= (async () => {
    clearInterval(flushTimer);
    flush();
    send({ type: 'counters', connackTimeouts, closedBeforeConnack });
    await Promise.all(devices.map((d) => d.close().catch((err: unknown) => logger.warn({ deviceId: d.id, err: errorMessage(err) }, 'simulated device did not close cleanly'))));
    process.disconnect?.();
  })();
  return stopping;
}

process.on('disconnect', () => void stop().finally(() => process.exit(0)));
process.on('unhandledRejection', (err) => logger.error({ err: errorMessage(err) }, 'unhandled rejection'));
process.on('message', (raw: unknown) => {
  const parsed = ToAgentWorker.safeParse(raw);
  if (!parsed.success) return send({ type: 'failed', message: `bad message from the storm bench: ${parsed.error.message}` });
  if (parsed.data.type === 'start') start(parsed.data).catch((err: unknown) => send({ type: 'failed', message: errorMessage(err) }));
  else void stop();
});
send({ type: 'ready' });
