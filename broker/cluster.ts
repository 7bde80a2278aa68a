import cluster, { type Worker } from 'node:cluster';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';

/** A worker that dies after it listened is started again after this, doubling up to the maximum. */
const RESTART_DELAY_MS = 500;
const MAX_RESTART_DELAY_MS = 30_000;
/** A worker that stayed up this long resets the delay. */
const STABLE_AFTER_MS = 60_000;

/** Env var a worker reads its index from (0-based), for its logs. */
export const WORKER_INDEX_ENV = 'OUTPOST_BROKER_WORKER_INDEX';

export interface BrokerClusterOptions {
  workers: number;
  logger: Logger;
  /** How long workers get to close after a shutdown signal before they are killed. */
  shutdownGraceMs: number;
}

/**
 * DD-035. The primary of `outpost broker --workers N`: it runs no broker
 * itself. It forks N broker processes of this same command (each a whole
 * Outpost broker: its own aedes, persistence and Redis connections), which
 * share the listening sockets through node:cluster (the primary accepts and
 * hands connections out round-robin) and one another's messages through the
 * Redis emitter — the aedes way to run several brokers. Sessions, queues,
 * retained messages and wills are in Redis, so it does not matter which
 * worker a device reaches, and a CONNECT on one ends an older connection of
 * the same client id on another (aedes's `$SYS/<id>/new/clients`).
 *
 * A worker that fails before it listens ends the whole broker with its exit
 * code (a configuration or start failure would only repeat); one that dies
 * later is started again with back-off, its devices reconnect to the others
 * meanwhile. SIGINT/SIGTERM is passed to every worker, which closes as a
 * single broker does. Resolves with the exit code once all workers are gone.
 */
export async function runBrokerPrimary(options: BrokerClusterOptions): Promise<number> {
  const { workers, logger, shutdownGraceMs } = options;
  const listening = new Set<number>();
  const startedAt = new Map<number, number>();
  const delays = new Map<number, number>();
  const live = new Map<number, Worker>();
  let stopping = false;
  let exitCode = 0;
  let resolveDone: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => (resolveDone = resolve));

  const fork = (index: number): void => {
    const worker = cluster.fork({ [WORKER_INDEX_ENV]: String(index) });
    live.set(index, worker);
    startedAt.set(index, Date.now());
    worker.on('listening', () => {
      if (listening.has(index)) return;
      listening.add(index);
      logger.info({ worker: index, pid: worker.process.pid }, 'broker worker listening');
    });
    worker.on('exit', (code, signal) => {
      live.delete(index);
      if (stopping) {
        if (live.size === 0) resolveDone(exitCode);
        return;
      }
      if (!listening.has(index)) {
        // Never served: whatever stopped it would stop the next one too.
        logger.error({ worker: index, code, signal }, 'broker worker failed to start; stopping the broker');
        exitCode = code && code !== 0 ? code : 1;
        stop();
        if (live.size === 0) resolveDone(exitCode);
        return;
      }
      listening.delete(index);
      const upMs = Date.now() - (startedAt.get(index) ?? 0);
      const delay = upMs >= STABLE_AFTER_MS ? RESTART_DELAY_MS : Math.min((delays.get(index) ?? RESTART_DELAY_MS / 2) * 2, MAX_RESTART_DELAY_MS);
      delays.set(index, delay);
      logger.error({ worker: index, code, signal, restartInMs: delay }, 'broker worker died; starting it again');
      setTimeout(() => {
        if (!stopping) fork(index);
      }, delay).unref();
    });
  };

  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    for (const worker of live.values()) {
      try {
        worker.process.kill('SIGTERM');
      } catch (err) {
        logger.warn({ pid: worker.process.pid, err: errorMessage(err) }, 'signalling a broker worker failed');
      }
    }
    setTimeout(() => {
      for (const worker of live.values()) worker.process.kill('SIGKILL');
    }, shutdownGraceMs).unref();
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'shutdown forced');
      for (const worker of live.values()) worker.process.kill('SIGKILL');
      return;
    }
    logger.info({ signal, workers: live.size }, 'shutting down');
    stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  logger.info({ workers }, 'starting broker workers');
  for (let i = 0; i < workers; i += 1) fork(i);
  try {
    return await done;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** A closed worker lets go of its channel to the primary, which otherwise keeps it alive. */
export function leaveCluster(): void {
  if (cluster.isWorker) cluster.worker?.disconnect();
}

/** Whether this process is a worker forked by runBrokerPrimary. */
export function isBrokerWorker(): boolean {
  return cluster.isWorker;
}
