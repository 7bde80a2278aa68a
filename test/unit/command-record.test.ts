import { describe, expect, it } from 'vitest';
import { answerOf, SendCommandInput } from '../../controller/commands/command-record.js';
import { CommandWaiters } from '../../controller/commands/command-waiters.js';
import { DeviceEvent, type DeviceEventInput } from '../../shared/schemas/event.js';

const AT = '2026-11-23T12:00:00.000Z';
const event = (over: Partial<DeviceEventInput>): DeviceEvent =>
  DeviceEvent.parse({ protocol: 1, deviceId: 'kiosk-a', id: 'e1', at: AT, type: 'command.result', level: 'info', message: 'm', ...over });

describe('answerOf: the answer a device event carries', () => {
  it.each([
    {
      name: 'a successful result',
      e: event({ data: { commandId: 'c-1', type: 'ping', ok: true, result: { pong: true } } }),
      answer: { commandId: 'c-1', answer: { status: 'done', ok: true, at: AT, output: { pong: true }, error: null, code: null } },
    },
    {
      name: 'a failed result',
      e: event({ level: 'warn', code: 'WORKLOAD_NOT_FOUND', data: { commandId: 'c-2', ok: false, error: 'no container' } }),
      answer: { commandId: 'c-2', answer: { status: 'done', ok: false, at: AT, output: null, error: 'no container', code: 'WORKLOAD_NOT_FOUND' } },
    },
    {
      name: 'an expiry',
      e: event({ type: 'command.expired', code: 'COMMAND_EXPIRED', message: 'expired at …', data: { commandId: 'c-3' } }),
      answer: { commandId: 'c-3', answer: { status: 'expired', ok: false, at: AT, output: null, error: 'expired at …', code: 'COMMAND_EXPIRED' } },
    },
    {
      name: 'a rejection',
      e: event({ type: 'command.rejected', code: 'COMMAND_INVALID', data: { commandId: 'c-4', reason: 'type: Invalid option' } }),
      answer: { commandId: 'c-4', answer: { status: 'rejected', ok: false, at: AT, output: null, error: 'type: Invalid option', code: 'COMMAND_INVALID' } },
    },
    { name: 'a rejection without an id', e: event({ type: 'command.rejected', data: { reason: 'not JSON' } }), answer: null },
    { name: 'another event type', e: event({ type: 'agent.started', data: { commandId: 'c-5' } }), answer: null },
  ])('$name', ({ e, answer }) => {
    expect(answerOf(e)).toEqual(answer);
  });
});

describe('SendCommandInput', () => {
  it('fills in the default ttl and wait, and refuses what makes no sense', () => {
    expect(SendCommandInput.parse({ type: 'ping' })).toEqual({ type: 'ping', ttlSeconds: 900, waitSeconds: 10 });
    expect(SendCommandInput.safeParse({ type: 'logs' }).success).toBe(false);
    expect(SendCommandInput.safeParse({ type: 'restart', workload: 'a-b', tail: 3 }).success).toBe(false);
    expect(SendCommandInput.safeParse({ type: 'ping', ttlSeconds: 7 * 24 * 3600 + 1 }).success).toBe(false);
    expect(SendCommandInput.safeParse({ type: 'ping', waitSeconds: 61 }).success).toBe(false);
  });
});

describe('CommandWaiters', () => {
  it('wakes every waiter of a key with the value and forgets them', async () => {
    const w = new CommandWaiters<string>();
    const a = w.wait('d/c-1', 5000);
    const b = w.wait('d/c-1', 5000);
    const other = w.wait('d/c-2', 5000);
    expect(w.resolve('d/c-1', 'answer')).toBe(2);
    await expect(a.promise).resolves.toBe('answer');
    await expect(b.promise).resolves.toBe('answer');
    expect(w.resolve('d/c-1', 'again')).toBe(0);
    other.cancel();
    await expect(other.promise).resolves.toBeNull();
    expect(w.size).toBe(0);
  });

  it('times out with null', async () => {
    const w = new CommandWaiters<string>();
    await expect(w.wait('d/c-1', 10).promise).resolves.toBeNull();
    expect(w.size).toBe(0);
  });
});
