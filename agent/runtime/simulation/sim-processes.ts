import type { Clock } from '../../../shared/clock.js';
import type { ContainerHealth, ContainerRunState } from '../runtime.js';
import type { SimHealthStatus, SimulationConfig } from './sim-config.js';
import { programOf, runCheck, type ProgramOp } from './sim-program.js';

export interface HealthCheck {
  test: string[];
  intervalMs: number;
  retries: number;
  startPeriodMs: number;
}

export interface SimContainer {
  id: string;
  name: string;
  labels: Record<string, string>;
  image: string;
  imageId: string;
  argv: string[];
  healthCheck: HealthCheck | null;
  restart: { name: string; max: number };
  createdAt: string;
  state: ContainerRunState;
  exitCode: number | null;
  startedAt: string | null;
  restartCount: number;
  health: ContainerHealth;
  failingStreak: number;
  flaky: SimHealthStatus[] | null;
  flakyStep: number;
  hostPorts: string[];
  address: string;
  logs: string[];
  /** Bumped at every start, stop and exit: timers of an earlier run see a stale value and do nothing. */
  run: number;
  timers: NodeJS.Timeout[];
  backoffMs: number;
}

const MAX_LOG_LINES = 1000;
const NANOS_PER_MS = 1e6;

export interface SimProcessDeps {
  clock: Clock;
  random: () => number;
  config: Readonly<SimulationConfig>;
  /** Whether the container still exists (a removed container's timers do nothing). */
  exists: (c: SimContainer) => boolean;
}

/**
 * The processes of simulated containers: a program read from the command
 * runs step by step on timers, its exit goes through Docker's restart policy
 * (doubling back-off from 100 ms, restart count), and a `cmd` health check
 * (or a flaky status sequence) decides health once per interval.
 */
export class SimProcesses {
  private closed = false;

  constructor(private readonly deps: SimProcessDeps) {}

  /** No timer starts after this; the owner clears each container's running timers. */
  close(): void {
    this.closed = true;
  }

  run(c: SimContainer): void {
    this.clearTimers(c);
    const run = ++c.run;
    c.state = 'running';
    c.exitCode = null;
    c.startedAt = new Date(this.deps.clock.now()).toISOString();
    c.failingStreak = 0;
    c.flaky = c.healthCheck && this.deps.random() < this.deps.config.flakyHealthRate ? this.deps.config.flakyHealthSequence : null;
    c.flakyStep = 0;
    c.health = c.healthCheck ? { status: c.flaky?.[0] ?? 'starting', lastOutput: null } : { status: 'none', lastOutput: null };
    if (c.healthCheck) this.scheduleHealth(c, run, c.healthCheck);
    this.step(c, run, programOf(c.argv), 0);
  }

  private step(c: SimContainer, run: number, ops: readonly ProgramOp[], from: number): void {
    let status = 0;
    for (let i = from; i < ops.length; i++) {
      if (c.run !== run) return;
      const op = ops[i] as ProgramOp;
      switch (op.kind) {
        case 'log':
          c.logs.push(op.line);
          if (c.logs.length > MAX_LOG_LINES) c.logs.splice(0, c.logs.length - MAX_LOG_LINES);
          break;
        case 'status':
          status = op.code;
          break;
        case 'sleep':
          this.timer(c, run, op.ms, () => this.step(c, run, ops, i + 1));
          return;
        case 'exit':
          this.exited(c, op.code);
          return;
        case 'forever':
          return;
      }
    }
    this.exited(c, status);
  }

  /** The program ended by itself: Docker's restart policy decides, with its doubling back-off. */
  private exited(c: SimContainer, code: number): void {
    this.halt(c, code);
    const p = c.restart;
    const again = p.name === 'always' || p.name === 'unless-stopped' || (p.name === 'on-failure' && code !== 0 && (p.max === 0 || c.restartCount < p.max));
    if (!again || this.closed) return;
    c.state = 'restarting';
    const run = c.run;
    const delay = c.backoffMs;
    c.backoffMs = Math.min(c.backoffMs * 2, 60_000);
    this.timer(c, run, delay, () => {
      c.restartCount++;
      this.run(c);
    });
  }

  halt(c: SimContainer, code: number): void {
    this.clearTimers(c);
    c.run++;
    c.state = 'exited';
    c.exitCode = code;
  }

  private scheduleHealth(c: SimContainer, run: number, h: HealthCheck): void {
    const started = this.deps.clock.now();
    const tick = (): void => {
      if (c.state !== 'running') return;
      if (c.flaky) {
        c.flakyStep = Math.min(c.flakyStep + 1, c.flaky.length - 1);
        const status = c.flaky[c.flakyStep] as SimHealthStatus;
        c.health = { status, lastOutput: `simulated flaky health: ${status}` };
      } else {
        const result = runCheck(h.test);
        if (result.code === 0) {
          c.failingStreak = 0;
          c.health = { status: 'healthy', lastOutput: result.output };
        } else if (this.deps.clock.now() - started >= h.startPeriodMs) {
          c.failingStreak++;
          c.health = { status: c.failingStreak >= h.retries ? 'unhealthy' : c.health.status, lastOutput: result.output };
        }
      }
      this.timer(c, run, h.intervalMs, tick);
    };
    this.timer(c, run, h.intervalMs, tick);
  }

  private timer(c: SimContainer, run: number, ms: number, fn: () => void): void {
    if (this.closed) return;
    const t = this.deps.clock.setTimeout(() => {
      c.timers = c.timers.filter((x) => x !== t);
      if (c.run === run && this.deps.exists(c)) fn();
    }, ms);
    t.unref?.();
    c.timers.push(t);
  }

  clearTimers(c: SimContainer): void {
    for (const t of c.timers) this.deps.clock.clearTimeout(t);
    c.timers = [];
  }
}

export function healthCheckOf(raw: unknown): HealthCheck | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const h = raw as { Test?: string[]; Interval?: number; Retries?: number; StartPeriod?: number };
  if (!h.Test || h.Test.length === 0 || h.Test[0] === 'NONE') return null;
  // Docker's defaults when a field is 0: 30 s interval, 3 retries.
  return {
    test: h.Test,
    intervalMs: h.Interval ? h.Interval / NANOS_PER_MS : 30_000,
    retries: h.Retries || 3,
    startPeriodMs: (h.StartPeriod ?? 0) / NANOS_PER_MS,
  };
}
