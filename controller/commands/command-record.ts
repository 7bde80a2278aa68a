import { z } from 'zod';
import { WorkloadName } from '../../shared/device-id.js';
import { Timestamp } from '../../shared/schemas/common.js';
import { Command, COMMAND_TYPES } from '../../shared/schemas/command.js';
import type { DeviceEvent } from '../../shared/schemas/event.js';

export const COMMAND_TTL_DEFAULT_SECONDS = 15 * 60;
export const COMMAND_TTL_MAX_SECONDS = 7 * 24 * 3600;
export const COMMAND_WAIT_DEFAULT_SECONDS = 10;
export const COMMAND_WAIT_MAX_SECONDS = 60;

/** What an operator asks for; the controller fills in id, device, issuedAt and expiresAt. */
export const SendCommandInput = z
  .strictObject({
    type: z.enum(COMMAND_TYPES),
    workload: WorkloadName.optional().describe('restart and logs: the device workload, <app>-<workload>'),
    tail: z.number().int().min(1).max(1000).optional().describe('logs: how many lines (default 100)'),
    ttlSeconds: z
      .number()
      .int()
      .min(1)
      .max(COMMAND_TTL_MAX_SECONDS)
      .default(COMMAND_TTL_DEFAULT_SECONDS)
      .describe('The command expires this long after it was sent; a device that gets it later drops it unexecuted'),
    waitSeconds: z
      .number()
      .int()
      .min(0)
      .max(COMMAND_WAIT_MAX_SECONDS)
      .default(COMMAND_WAIT_DEFAULT_SECONDS)
      .describe('Wait this long for the result when the device is online (0: do not wait)'),
  })
  .refine((c) => c.type === 'ping' || c.type === 'resync' || c.workload !== undefined, {
    message: 'restart and logs need a workload',
    path: ['workload'],
  })
  .refine((c) => c.type === 'logs' || c.tail === undefined, { message: 'tail is only for logs', path: ['tail'] });
export type SendCommandInput = z.input<typeof SendCommandInput>;

export const CommandStatus = z
  .enum(['queued', 'done', 'expired', 'rejected'])
  .describe(
    'queued: sent, no answer yet. done: the device ran it (see result.ok). expired: the device dropped it because it arrived after expiresAt, ' +
      'or it expired without an answer. rejected: the device refused it as invalid',
  );
export type CommandStatus = z.infer<typeof CommandStatus>;

/** The device's answer to one command, from its command.result / command.expired / command.rejected event. */
export const CommandAnswer = z
  .strictObject({
    status: CommandStatus.exclude(['queued']),
    ok: z.boolean(),
    at: Timestamp.describe('When the device answered'),
    output: z.record(z.string(), z.unknown()).nullable().describe('What the command returned (logs: text; restart: containerId, startedAt; ping: agentVersion, …)'),
    error: z.string().nullable(),
    code: z.string().nullable(),
  })
  .describe("The device's answer");
export type CommandAnswer = z.infer<typeof CommandAnswer>;

export const CommandView = z
  .strictObject({
    command: Command,
    status: CommandStatus,
    sentAt: Timestamp,
    expiresAt: Timestamp,
    online: z.boolean().describe('Whether the device is connected now'),
    message: z.string().describe('What happened, for a human'),
    result: CommandAnswer.nullable().describe('null until the device answered'),
  })
  .describe('A command sent to a device and its answer');
export type CommandView = z.infer<typeof CommandView>;

const ResultData = z.looseObject({
  commandId: z.string(),
  ok: z.boolean().optional(),
  result: z.record(z.string(), z.unknown()).optional(),
  error: z.string().optional(),
  reason: z.string().optional(),
});

/** The answer a command event carries, or null when the event is not about a command. */
export function answerOf(event: DeviceEvent): { commandId: string; answer: CommandAnswer } | null {
  if (event.type !== 'command.result' && event.type !== 'command.expired' && event.type !== 'command.rejected') return null;
  const data = ResultData.safeParse(event.data);
  if (!data.success) return null;
  const d = data.data;
  const base = { at: event.at, code: event.code };
  switch (event.type) {
    case 'command.result': {
      const ok = d.ok === true;
      return {
        commandId: d.commandId,
        answer: { status: 'done', ok, output: ok ? (d.result ?? {}) : null, error: ok ? null : (d.error ?? event.message), ...base },
      };
    }
    case 'command.expired':
      return { commandId: d.commandId, answer: { status: 'expired', ok: false, output: null, error: event.message, ...base } };
    case 'command.rejected':
      return { commandId: d.commandId, answer: { status: 'rejected', ok: false, output: null, error: d.reason ?? event.message, ...base } };
  }
}
