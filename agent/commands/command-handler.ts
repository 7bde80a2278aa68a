import type { Logger } from 'pino';
import { decodeJson } from '../../shared/decode.js';
import { errorMessage, isOutpostError, type ErrorCode } from '../../shared/errors.js';
import { Command, COMMAND_LOG_MAX_BYTES } from '../../shared/schemas/command.js';
import type { EventSink } from '../reconcile/event-sink.js';
import type { ContainerRuntime, ObservedContainer } from '../runtime/runtime.js';
import { logExcerpt } from './log-excerpt.js';

/** Largest command payload the agent reads; a valid one is well under 1 KiB. */
export const COMMAND_MAX_BYTES = 16 * 1024;
/** Command ids remembered for de-duplication (QoS 1 may deliver a command twice). */
export const REMEMBERED_COMMANDS = 256;

const CODES = { tooLarge: 'COMMAND_INVALID', invalidJson: 'COMMAND_INVALID', schema: 'COMMAND_INVALID' } as const;

export interface CommandHandlerDeps {
  deviceId: string;
  runtime: Pick<ContainerRuntime, 'listContainers' | 'containerLogs' | 'restartContainer' | 'inspectContainer'>;
  /** The controller's time (DD-052): `expiresAt` and `issuedAt` are the controller's instants. */
  now: () => number;
  /** The device's own clock, for the agent's uptime; absent: `now`. */
  localNow?: () => number;
  events: EventSink;
  /** Asks for a full reconcile pass and a fresh report; false when there is no desired state to reconcile yet. */
  requestResync: () => boolean;
  /** Grace period before a restart kills the workload (its desired stopTimeoutSeconds). */
  stopTimeoutSeconds: (workload: string) => number;
  agent: { version: string; startedAtMs: number };
  logger: Logger;
  remember?: number;
}

/** What became of one delivery; results themselves go out as events. */
export type CommandOutcome = 'rejected' | 'duplicate' | 'expired' | 'succeeded' | 'failed';

type Execution = { ok: true; result: Record<string, unknown> } | { ok: false; code: ErrorCode | null; error: string };

/**
 * Executes the commands on .../devices/{id}/commands. Commands are imperative
 * and one-off, unlike the level-based desired state: each is validated, checked
 * against its expiry (an expired command is never executed, whenever it
 * arrives), run at most once per id, and answered with exactly one event
 * (`command.result`, `command.expired` or `command.rejected`) carrying its id.
 * Never throws: a bad command is an event and a log line.
 */
export class CommandHandler {
  /** Recent command ids, oldest first (a Map keeps insertion order). */
  private readonly seen = new Map<string, true>();

  constructor(private readonly deps: CommandHandlerDeps) {}

  async handle(payload: Buffer): Promise<CommandOutcome> {
    try {
      return await this.process(payload);
    } catch (err) {
      this.deps.logger.error({ err: errorMessage(err) }, 'command handler failed');
      return 'failed';
    }
  }

  private async process(payload: Buffer): Promise<CommandOutcome> {
    const { deps } = this;
    const decoded = decodeJson(payload, Command, COMMAND_MAX_BYTES, CODES);
    if (!decoded.ok) {
      const id = idOf(decoded.raw);
      this.reject(id, `command refused: ${decoded.reason}`);
      return 'rejected';
    }
    const cmd = decoded.value;
    if (cmd.deviceId !== deps.deviceId) {
      this.reject(cmd.id, `command ${cmd.id} is for device ${cmd.deviceId}, not ${deps.deviceId}`);
      return 'rejected';
    }
    if (this.seen.has(cmd.id)) {
      deps.logger.debug({ commandId: cmd.id }, 'duplicate command ignored');
      return 'duplicate';
    }
    this.remember(cmd.id);
    const now = deps.now();
    const log = deps.logger.child({ commandId: cmd.id, type: cmd.type, workload: cmd.workload });
    if (Date.parse(cmd.expiresAt) < now) {
      log.warn({ expiresAt: cmd.expiresAt }, 'expired command dropped');
      deps.events.emit({
        type: 'command.expired',
        level: 'warn',
        message: `command ${cmd.id} (${cmd.type}) expired at ${cmd.expiresAt}; not executed`,
        workload: cmd.workload ?? null,
        code: 'COMMAND_EXPIRED',
        data: { commandId: cmd.id, type: cmd.type, expiresAt: cmd.expiresAt, receivedAt: new Date(now).toISOString() },
      });
      return 'expired';
    }
    log.info('command received');
    const outcome = await this.execute(cmd, now);
    const data = outcome.ok
      ? { commandId: cmd.id, type: cmd.type, ok: true, result: outcome.result }
      : { commandId: cmd.id, type: cmd.type, ok: false, error: outcome.error, code: outcome.code };
    if (outcome.ok) log.info('command succeeded');
    else log.warn({ code: outcome.code, err: outcome.error }, 'command failed');
    deps.events.emit({
      type: 'command.result',
      level: outcome.ok ? 'info' : 'warn',
      message: outcome.ok ? `${cmd.type} ${cmd.id} done` : `${cmd.type} ${cmd.id} failed: ${outcome.error}`,
      workload: cmd.workload ?? null,
      code: outcome.ok ? null : outcome.code,
      data,
    });
    return outcome.ok ? 'succeeded' : 'failed';
  }

  private async execute(cmd: Command, receivedAt: number): Promise<Execution> {
    try {
      switch (cmd.type) {
        case 'ping':
          return {
            ok: true,
            result: {
              pong: true,
              agentVersion: this.deps.agent.version,
              agentUptimeSeconds: Math.max(0, Math.floor(((this.deps.localNow ?? this.deps.now)() - this.deps.agent.startedAtMs) / 1000)),
              delayMs: Math.max(0, receivedAt - Date.parse(cmd.issuedAt)),
            },
          };
        case 'resync': {
          const requested = this.deps.requestResync();
          return {
            ok: true,
            result: {
              requested,
              message: requested ? 'reconcile pass and report requested' : 'no desired state yet: report requested',
            },
          };
        }
        case 'restart':
        case 'logs': {
          const workload = cmd.workload ?? '';
          const container = await this.currentContainer(workload);
          if (!container) {
            const known = [...new Set((await this.deps.runtime.listContainers(this.deps.deviceId)).map((c) => c.workload))].sort();
            return {
              ok: false,
              code: 'WORKLOAD_NOT_FOUND',
              error: `no container for workload ${workload} on ${this.deps.deviceId} (workloads here: ${known.join(', ') || 'none'})`,
            };
          }
          return cmd.type === 'logs' ? await this.logs(container, cmd.tail) : await this.restart(container, workload);
        }
      }
    } catch (err) {
      return { ok: false, code: isOutpostError(err) ? err.code : null, error: errorMessage(err) };
    }
  }

  private async logs(container: ObservedContainer, tail: number): Promise<Execution> {
    const raw = await this.deps.runtime.containerLogs(container.id, tail, COMMAND_LOG_MAX_BYTES);
    const excerpt = logExcerpt(raw, tail, COMMAND_LOG_MAX_BYTES);
    return { ok: true, result: { containerId: container.id, tail, lines: excerpt.lines, truncated: excerpt.truncated, text: excerpt.text } };
  }

  private async restart(container: ObservedContainer, workload: string): Promise<Execution> {
    const previousStartedAt = container.startedAt;
    await this.deps.runtime.restartContainer(container.id, this.deps.stopTimeoutSeconds(workload));
    const after = await this.deps.runtime.inspectContainer(container.id);
    return {
      ok: true,
      result: { containerId: container.id, previousStartedAt, startedAt: after?.startedAt ?? null, running: after?.running ?? false },
    };
  }

  /** The workload's container that matters: running before stopped, then the newest. */
  private async currentContainer(workload: string): Promise<ObservedContainer | undefined> {
    const mine = (await this.deps.runtime.listContainers(this.deps.deviceId)).filter((c) => c.workload === workload);
    const rank = (c: ObservedContainer): number => (c.state === 'running' ? 0 : c.state === 'restarting' ? 1 : 2);
    return mine.sort((a, b) => rank(a) - rank(b) || b.createdAt.localeCompare(a.createdAt))[0];
  }

  private reject(commandId: string | null, reason: string): void {
    this.deps.logger.warn({ commandId, reason }, 'command rejected');
    this.deps.events.emit({
      type: 'command.rejected',
      level: 'error',
      message: reason,
      code: 'COMMAND_INVALID',
      data: { ...(commandId ? { commandId } : {}), reason: reason.slice(0, 1024) },
    });
  }

  private remember(id: string): void {
    this.seen.set(id, true);
    const max = this.deps.remember ?? REMEMBERED_COMMANDS;
    for (const oldest of this.seen.keys()) {
      if (this.seen.size <= max) break;
      this.seen.delete(oldest);
    }
  }
}

/** The id of a command that failed validation, when it has a usable one (so the sender learns why). */
function idOf(raw: unknown): string | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const id = (raw as { id?: unknown }).id;
  return typeof id === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(id) ? id : null;
}
