import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FromAgentWorker, type AgentEvent, type ToAgentWorker } from './agent-messages.js';
import type { ClientFleet, FleetContext, StormObservation } from './client-fleet.js';
import { nowMs, waitUntil } from './processes.js';

const WORKER_MODULE = new URL('./agent-worker.js', import.meta.url);
const STOP_GRACE_MS = 30_000;
const SETUP_TIMEOUT_MS = 600_000;

interface Running {
  /** Epoch ms when the first worker was told to start its agents. */
  t0: number;
  /** Stops every worker (agents close: offline presence, DISCONNECT; sessions stay); their summed counters. */
  stop(): Promise<{ connackTimeouts: number; closedBeforeConnack: number }>;
}

/** Forks the workers, waits until each loaded its modules, then starts every share at once. */
async function runWorkers(count: number, ctx: FleetContext, secrets: ReadonlyMap<string, string>, stateRoot: string, onEvent: (e: AgentEvent) => void): Promise<Running> {
  const shares: Array<Array<{ id: string; secret: string }>> = Array.from({ length: count }, () => []);
  ctx.ids.forEach((id, i) => shares[i % count]?.push({ id, secret: secrets.get(id) ?? '' }));
  const children: ChildProcess[] = [];
  const counters = { connackTimeouts: 0, closedBeforeConnack: 0 };
  const failures: string[] = [];
  const ready = shares.map(
    () =>
      new Promise<ChildProcess>((resolve, reject) => {
        const child = fork(WORKER_MODULE, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
        children.push(child);
        child.on('message', (raw: unknown) => {
          const parsed = FromAgentWorker.safeParse(raw);
          if (!parsed.success) return void failures.push(`bad message from a worker: ${parsed.error.message}`);
          const m = parsed.data;
          if (m.type === 'ready') resolve(child);
          else if (m.type === 'events') m.events.forEach(onEvent);
          else if (m.type === 'counters') {
            counters.connackTimeouts += m.connackTimeouts;
            counters.closedBeforeConnack += m.closedBeforeConnack;
          } else if (m.type === 'failed') {
            failures.push(m.message);
            process.stderr.write(`storm agent worker: ${m.message}\n`);
          }
        });
        child.once('exit', (code, signal) => reject(new Error(`storm agent worker exited before it was ready (code ${code}, signal ${signal})`)));
      }),
  );
  const exited = children.map((c) => new Promise<void>((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve()))));
  const stop = async (): Promise<typeof counters> => {
    await Promise.all(
      children.map(async (c, i) => {
        if (c.exitCode === null && c.signalCode === null) {
          if (c.connected) c.send({ type: 'stop' } satisfies ToAgentWorker);
          const timer = setTimeout(() => c.kill('SIGKILL'), STOP_GRACE_MS);
          await exited[i];
          clearTimeout(timer);
        }
      }),
    );
    return counters;
  };
  let workers: ChildProcess[];
  try {
    workers = await Promise.all(ready);
  } catch (err) {
    await stop();
    throw err;
  }
  const t0 = nowMs();
  workers.forEach((w, i) =>
    w.send({ type: 'start', devices: shares[i] ?? [], stateRoot, brokerUrl: ctx.url, connackTimeoutMs: ctx.connackTimeoutMs, version: ctx.version } satisfies ToAgentWorker),
  );
  return { t0, stop };
}

/**
 * Simulated agents (real agent core over the simulated runtime, DD-029)
 * spread over worker processes as `outpost sim` spreads them, each with the
 * agent's own reconnect back-off. Set-up: every agent connects once and
 * subscribes (its persistent session), then every worker stops its agents.
 * Storm: fresh workers on the same state directories start every agent at
 * once. Converged = the agent reported the version as applied.
 */
export function agentFleet(ctx: FleetContext, workers: number): ClientFleet {
  let stateRoot: string | undefined;
  let running: Running | undefined;
  let secrets: ReadonlyMap<string, string> = new Map();
  return {
    async setup(s) {
      secrets = s;
      stateRoot = await mkdtemp(join(tmpdir(), 'outpost-storm-agents-'));
      const subscribed = new Set<string>();
      const r = await runWorkers(workers, ctx, secrets, stateRoot, (e) => void (e.kind === 'subscribed' && subscribed.add(e.id)));
      try {
        await waitUntil('every agent subscribed', () => subscribed.size >= ctx.ids.length, SETUP_TIMEOUT_MS);
      } finally {
        await r.stop();
      }
    },
    async storm(deadlineMs) {
      const received = new Map<string, number[]>();
      const accepted = new Map<string, number>();
      const converged = new Map<string, number>();
      let t0 = 0;
      const early: AgentEvent[] = [];
      const take = (e: AgentEvent): void => {
        const at = e.at - t0;
        if (e.kind === 'received') received.set(e.id, [...(received.get(e.id) ?? []), at]);
        else if (e.kind === 'accepted') accepted.set(e.id, (accepted.get(e.id) ?? 0) + 1);
        else if (e.kind === 'applied' && !converged.has(e.id)) converged.set(e.id, at);
      };
      running = await runWorkers(workers, ctx, secrets, stateRoot ?? '', (e) => (t0 === 0 ? early.push(e) : take(e)));
      t0 = running.t0;
      early.splice(0).forEach(take);
      await waitUntil('every agent converged', () => converged.size >= ctx.ids.length, deadlineMs).catch(() => undefined);
      let counters: { connackTimeouts: number; closedBeforeConnack: number } | undefined;
      const r = running;
      return {
        received,
        converged,
        duplicated: () => [...accepted.values()].filter((n) => n > 1).length,
        // The workers count until they stop: read after close().
        connackTimeouts: () => counters?.connackTimeouts ?? 0,
        closedBeforeConnack: () => Math.max(0, (counters?.closedBeforeConnack ?? 0) - (counters?.connackTimeouts ?? 0)),
        async finish() {
          counters = await r.stop();
        },
      } satisfies StormObservation;
    },
    async close() {
      await running?.stop();
      if (stateRoot) await rm(stateRoot, { recursive: true, force: true });
    },
  };
}
