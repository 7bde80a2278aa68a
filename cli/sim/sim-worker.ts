import mqtt from 'mqtt';
import { createLogger, type Logger } from '../../shared/logger.js';
import { errorMessage } from '../../shared/errors.js';
import { FromWorker, ToWorker } from './sim-messages.js';
import { startSimDevice, type SimDevice } from './sim-device.js';

/**
 * A worker process of `outpost sim`: runs its share of the simulated devices
 * and answers the parent over IPC. It ignores Ctrl-C (the parent stops it in
 * order) and stops by itself when the parent goes away.
 */
const STATS_EVERY_MS = 5000;
const START_CONCURRENCY = 25;

const devices: SimDevice[] = [];
let logger: Logger = createLogger({ level: 'warn', name: 'sim-worker' });
let statsTimer: NodeJS.Timeout | undefined;
let stopping: Promise<void> | null = null;

function send(message: FromWorker): void {
  if (process.connected) process.send?.(FromWorker.parse(message));
}

function rss(): { rssBytes: number; heapUsedBytes: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { rssBytes: m.rss, heapUsedBytes: m.heapUsed };
}

async function start(message: Extract<ToWorker, { type: 'start' }>): Promise<void> {
  logger = createLogger({ level: message.agent.logLevel, name: 'sim-worker' });
  // mqtt-packet's number cache is 6 MB of Buffers per process; off, a device costs kilobytes.
  const connect = (url: string, options: mqtt.IClientOptions) => mqtt.connect(url, { ...options, writeCache: false });
  const queue = [...message.devices];
  const next = async (): Promise<void> => {
    for (let d = queue.shift(); d && !stopping; d = queue.shift()) {
      try {
        devices.push(await startSimDevice(d, { stateRoot: message.stateRoot, agent: message.agent, simulation: message.simulation, logger, connect }));
      } catch (err) {
        logger.error({ deviceId: d.id, err: errorMessage(err) }, 'simulated device did not start');
        send({ type: 'failed', deviceId: d.id, message: errorMessage(err) });
      }
    }
  };
  await Promise.all(Array.from({ length: START_CONCURRENCY }, next));
  send({ type: 'started', devices: devices.length });
  const stats = (): void => send({ type: 'stats', ...rss(), devices: devices.length });
  stats();
  statsTimer = setInterval(stats, STATS_EVERY_MS);
}

function stop(): Promise<void> {
  stopping ??= (async () => {
    clearInterval(statsTimer);
    await Promise.all(devices.map((d) => d.close().catch((err: unknown) => logger.warn({ deviceId: d.id, err: errorMessage(err) }, 'simulated device did not close cleanly'))));
    for (const d of devices) send({ type: 'creates', deviceId: d.id, creates: [...d.creates()] });
    send({ type: 'stopped' });
    process.disconnect?.();
  })();
  return stopping;
}

process.on('SIGINT', () => undefined);
process.on('disconnect', () => void stop().finally(() => process.exit(0)));
process.on('unhandledRejection', (err) => logger.error({ err: errorMessage(err) }, 'unhandled rejection'));
process.on('message', (raw: unknown) => {
  const parsed = ToWorker.safeParse(raw);
  if (!parsed.success) {
    send({ type: 'failed', deviceId: null, message: `bad message from the sim parent: ${parsed.error.message}` });
    return;
  }
  if (parsed.data.type === 'start') {
    start(parsed.data).catch((err: unknown) => send({ type: 'failed', deviceId: null, message: errorMessage(err) }));
  } else {
    void stop();
  }
});
const baseline = rss();
send({ type: 'ready', baselineRssBytes: baseline.rssBytes, baselineHeapUsedBytes: baseline.heapUsedBytes });
