import { describe, expect, it } from 'vitest';
import { CommandHandler, REMEMBERED_COMMANDS, type CommandHandlerDeps, type CommandOutcome } from '../../agent/commands/command-handler.js';
import { logExcerpt } from '../../agent/commands/log-excerpt.js';
import type { AgentEvent } from '../../agent/reconcile/event-sink.js';
import type { ContainerDetail, ContainerRuntime, ObservedContainer } from '../../agent/runtime/runtime.js';
import { OutpostError } from '../../shared/errors.js';
import { silentLogger } from '../../shared/logger.js';
import { COMMAND_LOG_MAX_BYTES, type CommandInput } from '../../shared/schemas/command.js';

const DEVICE = 'kiosk-a';
const NOW = Date.parse('2026-11-23T12:00:00.000Z');
const iso = (ms: number): string => new Date(ms).toISOString();

type Runtime = Pick<ContainerRuntime, 'listContainers' | 'containerLogs' | 'restartContainer' | 'inspectContainer'>;

/** The runtime port, in memory, for the four methods the handler uses. */
class MemoryRuntime implements Runtime {
  readonly restarts: { id: string; timeout: number }[] = [];
  logs = new Map<string, string>();
  failRestart: Error | null = null;
  constructor(public containers: ObservedContainer[]) {}

  async listContainers(deviceId: string): Promise<ObservedContainer[]> {
    return deviceId === DEVICE ? this.containers.map((c) => ({ ...c })) : [];
  }
  async containerLogs(id: string, tail: number, maxBytes: number): Promise<string> {
    // Docker's own behaviour: the last `tail` lines, then the adapter's byte cap (newest kept).
    const lines = (this.logs.get(id) ?? '').split('\n').filter((l, i, all) => l !== '' || i < all.length - 1);
    const text = lines.slice(-tail).map((l) => `${l}\n`).join('');
    return text.length > maxBytes ? text.slice(text.length - maxBytes) : text;
  }
  async restartContainer(id: string, timeoutSeconds: number): Promise<void> {
    if (this.failRestart) throw this.failRestart;
    this.restarts.push({ id, timeout: timeoutSeconds });
    const c = this.containers.find((x) => x.id === id);
    if (c) Object.assign(c, { state: 'running', startedAt: iso(NOW + 1000) });
  }
  async inspectContainer(id: string): Promise<ContainerDetail | null> {
    const c = this.containers.find((x) => x.id === id);
    if (!c) return null;
    return {
      id,
      running: c.state === 'running',
      restarting: false,
      exitCode: c.exitCode,
      restartCount: c.restartCount,
      startedAt: c.startedAt,
      health: { status: 'none', lastOutput: null },
      address: null,
      hostPorts: [],
    };
  }
}

function container(id: string, workload: string, over: Partial<ObservedContainer> = {}): ObservedContainer {
  return {
    id,
    name: `${DEVICE}_${workload}_${id}`,
    workload,
    specHash: 'h1',
    image: 'busybox:1',
    imageId: 'sha256:1',
    state: 'running',
    exitCode: null,
    restartCount: 0,
    startedAt: iso(NOW - 60_000),
    createdAt: iso(NOW - 120_000),
    ...over,
  };
}

function setup(containers: ObservedContainer[] = [container('c-web', 'kiosk-web')], over: Partial<CommandHandlerDeps> = {}) {
  const runtime = new MemoryRuntime(containers);
  const events: AgentEvent[] = [];
  let resyncs = 0;
  let hasTarget = true;
  const handler = new CommandHandler({
    deviceId: DEVICE,
    runtime,
    now: () => NOW,
    events: { emit: (e) => events.push(e) },
    requestResync: () => {
      resyncs++;
      return hasTarget;
    },
    stopTimeoutSeconds: (w) => (w === 'kiosk-web' ? 3 : 10),
    agent: { version: '9.9.9', startedAtMs: NOW - 90_000 },
    logger: silentLogger(),
    ...over,
  });
  return {
    handler,
    runtime,
    events,
    resyncs: () => resyncs,
    setTarget: (v: boolean) => {
      hasTarget = v;
    },
    send: (cmd: Partial<CommandInput> | string): Promise<CommandOutcome> =>
      handler.handle(Buffer.from(typeof cmd === 'string' ? cmd : JSON.stringify(command(cmd)))),
  };
}

let seq = 0;
function command(over: Partial<CommandInput> = {}): CommandInput {
  return {
    protocol: 1,
    id: `c-${++seq}`,
    deviceId: DEVICE,
    type: 'ping',
    issuedAt: iso(NOW - 500),
    expiresAt: iso(NOW + 60_000),
    ...over,
  };
}

describe('CommandHandler: which commands run', () => {
  const cases: { name: string; cmd: Partial<CommandInput> | string; outcome: CommandOutcome; event: string; code: string | null }[] = [
    { name: 'a valid ping', cmd: { type: 'ping' }, outcome: 'succeeded', event: 'command.result', code: null },
    { name: 'expired one millisecond ago', cmd: { type: 'restart', workload: 'kiosk-web', expiresAt: iso(NOW - 1) }, outcome: 'expired', event: 'command.expired', code: 'COMMAND_EXPIRED' },
    { name: 'expiring right now (not yet past)', cmd: { type: 'ping', expiresAt: iso(NOW) }, outcome: 'succeeded', event: 'command.result', code: null },
    { name: 'not JSON', cmd: '{"protocol":1,', outcome: 'rejected', event: 'command.rejected', code: 'COMMAND_INVALID' },
    { name: 'unknown type', cmd: JSON.stringify({ ...command(), type: 'reboot' }), outcome: 'rejected', event: 'command.rejected', code: 'COMMAND_INVALID' },
    { name: 'restart without a workload', cmd: { type: 'restart' }, outcome: 'rejected', event: 'command.rejected', code: 'COMMAND_INVALID' },
    { name: 'another protocol', cmd: JSON.stringify({ ...command(), protocol: 2 }), outcome: 'rejected', event: 'command.rejected', code: 'COMMAND_INVALID' },
    { name: 'an unknown field', cmd: JSON.stringify({ ...command(), force: true }), outcome: 'rejected', event: 'command.rejected', code: 'COMMAND_INVALID' },
    { name: 'tail over 1000', cmd: { type: 'logs', workload: 'kiosk-web', tail: 1001 }, outcome: 'rejected', event: 'command.rejected', code: 'COMMAND_INVALID' },
    { name: 'another device', cmd: { deviceId: 'kiosk-b' }, outcome: 'rejected', event: 'command.rejected', code: 'COMMAND_INVALID' },
    { name: 'too large', cmd: JSON.stringify({ ...command(), pad: 'x'.repeat(20_000) }), outcome: 'rejected', event: 'command.rejected', code: 'COMMAND_INVALID' },
    { name: 'an unknown workload', cmd: { type: 'restart', workload: 'kiosk-db' }, outcome: 'failed', event: 'command.result', code: 'WORKLOAD_NOT_FOUND' },
    { name: 'logs of an unknown workload', cmd: { type: 'logs', workload: 'nope' }, outcome: 'failed', event: 'command.result', code: 'WORKLOAD_NOT_FOUND' },
  ];

  it.each(cases)('$name → $outcome, one $event event', async ({ cmd, outcome, event, code }) => {
    const h = setup();
    expect(await h.send(cmd)).toBe(outcome);
    expect(h.events.map((e) => [e.type, e.code ?? null])).toEqual([[event, code]]);
    if (outcome !== 'succeeded') expect(h.runtime.restarts).toEqual([]);
  });

  it('an expired restart is never executed, and says when it expired', async () => {
    const h = setup();
    const cmd = command({ type: 'restart', workload: 'kiosk-web', expiresAt: iso(NOW - 5000) });
    expect(await h.send(cmd)).toBe('expired');
    expect(h.runtime.restarts).toEqual([]);
    expect(h.events[0]).toMatchObject({
      type: 'command.expired',
      level: 'warn',
      workload: 'kiosk-web',
      data: { commandId: cmd.id, type: 'restart', expiresAt: cmd.expiresAt, receivedAt: iso(NOW) },
    });
  });

  it('a rejected command with a usable id names it, so the sender learns why', async () => {
    const h = setup();
    await h.send(JSON.stringify({ ...command({ id: 'c-bad' }), type: 'reboot' }));
    expect(h.events[0]?.data).toMatchObject({ commandId: 'c-bad' });
    expect(h.events[0]?.message).toMatch(/type/);
    await h.send('[]');
    expect(h.events[1]?.data).not.toHaveProperty('commandId');
  });

  it('a duplicate delivery is acknowledged but not executed again', async () => {
    const h = setup();
    const cmd = command({ type: 'restart', workload: 'kiosk-web' });
    expect(await h.send(cmd)).toBe('succeeded');
    expect(await h.send(cmd)).toBe('duplicate');
    expect(h.runtime.restarts).toHaveLength(1);
    expect(h.events.map((e) => e.type)).toEqual(['command.result']);
  });

  it(`remembers the last ${REMEMBERED_COMMANDS} ids and forgets older ones`, async () => {
    const h = setup(undefined, { remember: 3 });
    const cmds = [1, 2, 3, 4].map((i) => command({ id: `c-keep-${i}` }));
    for (const c of cmds) expect(await h.send(c)).toBe('succeeded');
    expect(await h.send(cmds[3] as CommandInput)).toBe('duplicate');
    expect(await h.send(cmds[1] as CommandInput)).toBe('duplicate');
    // The oldest fell out of the window: a redelivery this late runs again (if not expired).
    expect(await h.send(cmds[0] as CommandInput)).toBe('succeeded');
  });

  it('a duplicate of an expired command emits nothing more', async () => {
    const h = setup();
    const cmd = command({ expiresAt: iso(NOW - 1) });
    expect(await h.send(cmd)).toBe('expired');
    expect(await h.send(cmd)).toBe('duplicate');
    expect(h.events).toHaveLength(1);
  });
});

describe('CommandHandler: what each command does', () => {
  it('restart restarts the running container of the workload with its stop timeout', async () => {
    const h = setup([
      container('old', 'kiosk-web', { state: 'exited', exitCode: 0, createdAt: iso(NOW - 500_000) }),
      container('new', 'kiosk-web'),
      container('other', 'kiosk-db'),
    ]);
    const cmd = command({ type: 'restart', workload: 'kiosk-web' });
    expect(await h.send(cmd)).toBe('succeeded');
    expect(h.runtime.restarts).toEqual([{ id: 'new', timeout: 3 }]);
    expect(h.events[0]).toMatchObject({
      type: 'command.result',
      level: 'info',
      workload: 'kiosk-web',
      data: {
        commandId: cmd.id,
        type: 'restart',
        ok: true,
        result: { containerId: 'new', previousStartedAt: iso(NOW - 60_000), startedAt: iso(NOW + 1000), running: true },
      },
    });
  });

  it('restart of a workload whose only container is stopped restarts that one (the newest)', async () => {
    const h = setup([
      container('a', 'kiosk-web', { state: 'exited', createdAt: iso(NOW - 9000) }),
      container('b', 'kiosk-web', { state: 'exited', createdAt: iso(NOW - 1000) }),
    ]);
    await h.send({ type: 'restart', workload: 'kiosk-web' });
    expect(h.runtime.restarts.map((r) => r.id)).toEqual(['b']);
  });

  it('an unknown workload is a failed result that lists the workloads there are', async () => {
    const h = setup([container('x', 'kiosk-web'), container('y', 'kiosk-db')]);
    await h.send({ type: 'restart', workload: 'kiosk-api' });
    expect(h.events[0]).toMatchObject({
      level: 'warn',
      code: 'WORKLOAD_NOT_FOUND',
      data: { ok: false, code: 'WORKLOAD_NOT_FOUND', error: `no container for workload kiosk-api on ${DEVICE} (workloads here: kiosk-db, kiosk-web)` },
    });
  });

  it('a runtime failure is a failed result with the runtime error code', async () => {
    const h = setup();
    h.runtime.failRestart = new OutpostError('CONTAINER_START_FAILED', 'restart c-web failed: no space left');
    expect(await h.send({ type: 'restart', workload: 'kiosk-web' })).toBe('failed');
    expect(h.events[0]).toMatchObject({ code: 'CONTAINER_START_FAILED', data: { ok: false, error: 'restart c-web failed: no space left' } });
  });

  it('logs returns the last `tail` lines', async () => {
    const h = setup();
    h.runtime.logs.set('c-web', Array.from({ length: 50 }, (_, i) => `line-${i + 1}`).join('\n') + '\n');
    await h.send({ type: 'logs', workload: 'kiosk-web', tail: 5 });
    expect(h.events[0]?.data).toMatchObject({
      ok: true,
      result: { containerId: 'c-web', tail: 5, lines: 5, truncated: false, text: 'line-46\nline-47\nline-48\nline-49\nline-50' },
    });
  });

  it('logs are capped at COMMAND_LOG_MAX_BYTES, newest kept, whole lines', async () => {
    const h = setup();
    const line = (i: number) => `${String(i).padStart(4, '0')} ${'x'.repeat(95)}`; // 100 bytes
    h.runtime.logs.set('c-web', Array.from({ length: 1000 }, (_, i) => line(i + 1)).join('\n'));
    await h.send({ type: 'logs', workload: 'kiosk-web', tail: 1000 });
    const result = (h.events[0]?.data as { result: { text: string; lines: number; truncated: boolean } }).result;
    expect(Buffer.byteLength(result.text)).toBeLessThanOrEqual(COMMAND_LOG_MAX_BYTES);
    expect(result.truncated).toBe(true);
    const lines = result.text.split('\n');
    expect(lines.at(-1)).toBe(line(1000));
    expect(lines[0]).toMatch(/^\d{4} x{95}$/);
    expect(result.lines).toBe(lines.length);
    expect(lines.length).toBeGreaterThan(300);
  });

  it('ping answers with the agent version, its uptime and the delivery delay', async () => {
    const h = setup();
    await h.send({ type: 'ping', issuedAt: iso(NOW - 2500) });
    expect(h.events[0]?.data).toMatchObject({ ok: true, result: { pong: true, agentVersion: '9.9.9', agentUptimeSeconds: 90, delayMs: 2500 } });
  });

  it('resync requests a pass and says whether there was anything to reconcile', async () => {
    const h = setup();
    await h.send({ type: 'resync' });
    expect(h.resyncs()).toBe(1);
    expect(h.events[0]?.data).toMatchObject({ ok: true, result: { requested: true } });
    h.setTarget(false);
    await h.send({ type: 'resync' });
    expect(h.events[1]?.data).toMatchObject({ ok: true, result: { requested: false, message: 'no desired state yet: report requested' } });
  });

  it('never throws, even when the event sink does', async () => {
    const h = setup(undefined, {
      events: {
        emit: () => {
          throw new Error('sink broken');
        },
      },
    });
    await expect(h.send({ type: 'ping' })).resolves.toBe('failed');
  });
});

describe('logExcerpt', () => {
  it.each([
    { raw: '', tail: 10, max: 100, text: '', lines: 0, truncated: false },
    { raw: 'a\nb\nc\n', tail: 10, max: 100, text: 'a\nb\nc', lines: 3, truncated: false },
    { raw: 'a\nb\nc\n', tail: 2, max: 100, text: 'b\nc', lines: 2, truncated: true },
    { raw: 'aaaa\nbbbb\ncccc', tail: 10, max: 9, text: 'bbbb\ncccc', lines: 2, truncated: true },
    { raw: 'aaaa\nbbbb\ncccc', tail: 10, max: 3, text: 'ccc', lines: 1, truncated: true },
    { raw: 'ééé', tail: 10, max: 3, text: 'é', lines: 1, truncated: true },
  ])('$raw (tail $tail, max $max) → $text', ({ raw, tail, max, text, lines, truncated }) => {
    expect(logExcerpt(raw, tail, max)).toEqual({ text, lines, truncated });
  });

  it('caps the JSON-escaped size too (control characters escape six-fold)', () => {
    const raw = Array.from({ length: 100 }, () => '\u0001'.repeat(300)).join('\n');
    const out = logExcerpt(raw, 1000, COMMAND_LOG_MAX_BYTES);
    expect(JSON.stringify(out.text).length).toBeLessThanOrEqual(COMMAND_LOG_MAX_BYTES * 1.5);
    expect(out.truncated).toBe(true);
  });
});
