import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { PROTOCOL_VERSION } from '../../shared/schemas/common.js';
import { Command } from '../../shared/schemas/command.js';
import type { DeviceEvent } from '../../shared/schemas/event.js';
import type { Topics } from '../../shared/topics.js';
import { ControllerError } from '../errors.js';
import type { StatusStore } from '../ingest/status-store.js';
import type { ServicePublisher } from '../mqtt/service-publisher.js';
import type { Keys } from '../registry/keys.js';
import { answerOf, CommandAnswer, SendCommandInput, type CommandView } from './command-record.js';
import { CommandWaiters } from './command-waiters.js';

/** How long a command record outlives its expiry, so `GET` still shows what happened. */
const RECORD_GRACE_SECONDS = 24 * 3600;

/** The command record with its expiry, in one step (no MULTI: see registry-tx.ts). KEYS: record. ARGV: command json, sentAt, ttl seconds. */
const STORE_COMMAND = `
redis.call('HSET', KEYS[1], 'command', ARGV[1], 'sentAt', ARGV[2])
return redis.call('EXPIRE', KEYS[1], ARGV[3])`;

/** Record the first answer only, and only for a command this controller sent (the record exists). KEYS: record. ARGV: answer json. */
const STORE_ANSWER = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('HSETNX', KEYS[1], 'answer', ARGV[1])`;

export interface CommandServiceDeps {
  redis: Redis;
  keys: Keys;
  topics: Topics;
  mqtt: ServicePublisher;
  status: StatusStore;
  now: () => number;
  logger: Logger;
  newId?: () => string;
}

/**
 * Sends commands to devices and collects their answers. A command is
 * published QoS 1, not retained, on the device's commands topic: the broker
 * queues it in the device's persistent session while the device is offline,
 * and the device drops it unexecuted if it arrives after expiresAt. Answers
 * come back as events through the ingest (`onEvent`), are kept in Redis next
 * to the command, and wake a request waiting for them.
 */
export class CommandService {
  private readonly waiters = new CommandWaiters<CommandAnswer>();

  constructor(private readonly deps: CommandServiceDeps) {}

  /** Sends; waits up to waitSeconds for the answer when the device is online. The caller checked the device exists. */
  async send(deviceId: string, input: SendCommandInput): Promise<{ view: CommandView; answered: boolean }> {
    const { deps } = this;
    const parsed = SendCommandInput.safeParse(input);
    if (!parsed.success) {
      throw new ControllerError('REQUEST_INVALID', parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    }
    const req = parsed.data;
    const nowMs = deps.now();
    const command = Command.parse({
      protocol: PROTOCOL_VERSION,
      id: deps.newId?.() ?? newCommandId(nowMs),
      deviceId,
      type: req.type,
      ...(req.workload !== undefined ? { workload: req.workload } : {}),
      ...(req.tail !== undefined ? { tail: req.tail } : {}),
      issuedAt: new Date(nowMs).toISOString(),
      expiresAt: new Date(nowMs + req.ttlSeconds * 1000).toISOString(),
    });
    const sentAt = new Date(nowMs).toISOString();
    const status = await deps.status.get(deviceId);
    const key = deps.keys.command(deviceId, command.id);
    await deps.redis.eval(STORE_COMMAND, 1, key, JSON.stringify(command), sentAt, String(req.ttlSeconds + RECORD_GRACE_SECONDS));
    const waiter = status.online && req.waitSeconds > 0 ? this.waiters.wait(waiterKey(deviceId, command.id), req.waitSeconds * 1000) : null;
    try {
      await deps.mqtt.publish(deps.topics.commands(deviceId), JSON.stringify(command), { qos: 1, retain: false });
    } catch (err) {
      waiter?.cancel();
      await deps.redis.del(key).catch(() => undefined);
      throw new ControllerError('UNAVAILABLE', `the command could not be handed to the broker: ${errorMessage(err)}; retry later`, { cause: err });
    }
    deps.logger.info({ deviceId, commandId: command.id, type: command.type, workload: command.workload, online: status.online }, 'command sent');
    const answer = waiter ? await waiter.promise : null;
    const view: CommandView = {
      command,
      status: answer?.status ?? 'queued',
      sentAt,
      expiresAt: command.expiresAt,
      online: status.online,
      message: '',
      result: answer,
    };
    view.message = describe(view, { waitedSeconds: waiter ? req.waitSeconds : 0, neverConnected: status.presence === null });
    return { view, answered: answer !== null };
  }

  /** A command and its answer; null when there is no such command (or its record expired). */
  async get(deviceId: string, commandId: string): Promise<CommandView | null> {
    const { deps } = this;
    const [raw, sentAt, rawAnswer] = await deps.redis.hmget(deps.keys.command(deviceId, commandId), 'command', 'sentAt', 'answer');
    if (!raw || !sentAt) return null;
    const command = Command.parse(JSON.parse(raw));
    const answer = rawAnswer ? CommandAnswer.parse(JSON.parse(rawAnswer)) : null;
    const status = await deps.status.get(deviceId);
    const nowMs = deps.now();
    const lapsed = !answer && Date.parse(command.expiresAt) < nowMs;
    const view: CommandView = {
      command,
      status: answer?.status ?? (lapsed ? 'expired' : 'queued'),
      sentAt,
      expiresAt: command.expiresAt,
      online: status.online,
      message: '',
      result: answer,
    };
    view.message = describe(view, { waitedSeconds: 0, neverConnected: status.presence === null });
    return view;
  }

  /** Ingest hook: every newly stored device event passes here. */
  async onEvent(event: DeviceEvent): Promise<void> {
    const found = answerOf(event);
    if (!found) return;
    const { commandId, answer } = found;
    const stored = await this.deps.redis.eval(STORE_ANSWER, 1, this.deps.keys.command(event.deviceId, commandId), JSON.stringify(answer));
    if (stored === -1) this.deps.logger.debug({ deviceId: event.deviceId, commandId }, 'answer to an unknown command');
    this.waiters.resolve(waiterKey(event.deviceId, commandId), answer);
  }
}

const waiterKey = (deviceId: string, commandId: string): string => `${deviceId}/${commandId}`;

/** Sortable by time, unique by its random part: c-<base36 ms>-<hex>. */
function newCommandId(nowMs: number): string {
  return `c-${nowMs.toString(36)}-${randomBytes(4).toString('hex')}`;
}

function describe(view: CommandView, ctx: { waitedSeconds: number; neverConnected: boolean }): string {
  const { command: c, result } = view;
  const device = c.deviceId;
  switch (view.status) {
    case 'done':
      return result?.ok ? `${device} ran ${c.type} ${c.id}` : `${device} could not run ${c.type} ${c.id}: ${result?.error ?? 'unknown error'}`;
    case 'expired':
      return result
        ? `${device} dropped ${c.type} ${c.id} unexecuted: it arrived after it expired at ${c.expiresAt}`
        : `${c.type} ${c.id} expired at ${c.expiresAt} without an answer from ${device}; a device that gets it now drops it`;
    case 'rejected':
      return `${device} refused ${c.type} ${c.id}: ${result?.error ?? 'invalid command'}`;
    case 'queued':
      if (!view.online) {
        // The broker queues for an existing persistent session only.
        const never = ctx.neverConnected ? '; but the device has never connected, so the broker has no session to queue it in: send it again once the device is online' : '';
        return `${device} is offline: command ${c.id} queued, expires at ${c.expiresAt}${never}`;
      }
      if (ctx.waitedSeconds > 0) return `${device} did not answer within ${ctx.waitedSeconds}s: command ${c.id} is queued and expires at ${c.expiresAt}`;
      return `command ${c.id} sent to ${device}; no answer yet; expires at ${c.expiresAt}`;
  }
}
