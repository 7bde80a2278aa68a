import type { Command } from 'commander';
import type { CommandViewBody } from '../client/responses.js';
import { renderCommand, renderOutput, renderQueued, renderTelemetry } from '../output/command-view.js';
import { followLogs } from '../logs/follow-logs.js';
import { deviceWorkload, integerArg } from './args.js';
import { API_WAIT_MAX_SECONDS, restartWaitSeconds } from './restart-wait.js';
import { CliError, oneLineErrors, run, usageError, withApiOptions, type ApiFlags, type CommandContext } from './command-context.js';

interface SendFlags extends ApiFlags {
  wait?: string;
  ttl?: string;
  tail?: string;
  follow?: boolean;
  interval?: string;
}

const view = (ctx: CommandContext) => ({ now: ctx.now(), color: ctx.color });

function withSendOptions(command: Command): Command {
  return withApiOptions(command)
    .option('--wait <seconds>', 'wait this long for the answer when the device is online, 0-60 (default 10)')
    .option('--ttl <seconds>', 'the command expires this long after it is sent; an offline device that returns later drops it (default 900, max 604800)');
}

/**
 * Sends one command and prints the answer. A device that is offline (or slow)
 * is not an error: the command is queued and the line says until when.
 */
async function send(
  ctx: CommandContext,
  deviceId: string,
  input: { type: 'restart' | 'logs' | 'ping' | 'resync'; workload?: string; tail?: number },
  flags: SendFlags,
  /** Without --wait: how long an online device's answer may take (longer than the API holds a request: then polled). */
  answerWithinSeconds?: number,
): Promise<void> {
  const startedMs = Date.now();
  const sent = await ctx.client.sendCommand(deviceId, {
    ...input,
    ...(flags.wait !== undefined
      ? { waitSeconds: integerArg(flags.wait, '--wait') }
      : answerWithinSeconds !== undefined
        ? { waitSeconds: Math.min(API_WAIT_MAX_SECONDS, answerWithinSeconds) }
        : {}),
    ...(flags.ttl !== undefined ? { ttlSeconds: integerArg(flags.ttl, '--ttl') } : {}),
  });
  let { view: answer, answered } = sent;
  // The device is online and working on it (e.g. a restart waiting out the stop grace period): keep asking.
  if (flags.wait === undefined && answerWithinSeconds !== undefined) {
    const deadline = startedMs + answerWithinSeconds * 1000;
    while (answer.status === 'queued' && answer.online && answer.result === null && Date.now() < deadline) {
      await new Promise((done) => setTimeout(done, 1000));
      answer = await ctx.client.getCommand(deviceId, answer.command.id);
    }
    answered = answer.result !== null;
  }
  if (ctx.json) ctx.printJson(answer);
  else if (!answered || answer.status === 'queued') ctx.print(renderQueued(answer));
  else if (answer.status === 'done' && answer.result?.ok) {
    if (input.type === 'logs' && answer.result.output?.['text'] === '') {
      process.stderr.write(`(no log lines: the log of ${input.workload ?? '?'} on ${deviceId} is empty)\n`);
    } else ctx.print(renderOutput(answer, view(ctx)));
  }
  failIfUnsuccessful(answer);
}

/** A command the device refused, dropped or could not run is a failure (exit 1), even with --json. */
function failIfUnsuccessful(answer: CommandViewBody): void {
  const r = answer.result;
  if (!r || r.ok) return;
  const code = answer.status === 'expired' ? 'COMMAND_EXPIRED' : answer.status === 'rejected' ? 'COMMAND_REJECTED' : (r.code ?? 'COMMAND_FAILED');
  throw new CliError(code, answer.message);
}

/** `outpost logs|restart|ping|resync` and `outpost command show`, `outpost telemetry`. */
export function registerCommandCommands(program: Command): void {
  withSendOptions(
    oneLineErrors(program.command('logs'))
      .argument('<device>', 'device id')
      .argument('<workload>', 'the device workload: <app>-<workload> or <app>/<workload>')
      .description("print the last lines of a workload's log (at most 32 KiB)"),
  )
    .option('--tail <n>', 'how many lines, 1-1000 (default 100)')
    .option('-f, --follow', 'keep printing new lines until Ctrl-C (polls the device: one logs command per interval)')
    .option('--interval <seconds>', 'with --follow: seconds between polls, 1-60 (default 2)')
    .action((deviceId: string, workload: string, flags: SendFlags) =>
      run(flags, async (ctx) => {
        const input = { type: 'logs' as const, workload: deviceWorkload(workload), ...(flags.tail !== undefined ? { tail: integerArg(flags.tail, '--tail') } : {}) };
        if (!flags.follow) return send(ctx, deviceId, input, flags);
        if (ctx.json) throw usageError('--follow prints lines as they come; it does not combine with --json');
        const intervalSeconds = flags.interval === undefined ? 2 : integerArg(flags.interval, '--interval');
        if (intervalSeconds < 1 || intervalSeconds > 60) throw usageError('--interval must be 1-60 seconds');
        const stop = new AbortController();
        // Ctrl-C ends at once, even during a poll that waits for the device; lines printed so far are out.
        const onSignal = (): void => {
          stop.abort();
          setTimeout(() => process.exit(0), 100).unref();
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          await followLogs(ctx.client, {
            deviceId,
            workload: input.workload,
            // A poll asks for the most lines it may, so that fast logs overlap from one poll to the next.
            tail: 1000,
            firstTail: input.tail ?? 100,
            intervalMs: intervalSeconds * 1000,
            waitSeconds: flags.wait === undefined ? 10 : integerArg(flags.wait, '--wait'),
            ttlSeconds: flags.ttl === undefined ? Math.max(10, intervalSeconds * 2) : integerArg(flags.ttl, '--ttl'),
            out: (line) => void process.stdout.write(`${line}\n`),
            note: (line) => void process.stderr.write(`${line}\n`),
            sleep: (ms, signal) =>
              new Promise((done) => {
                const timer = setTimeout(done, ms);
                signal.addEventListener('abort', () => (clearTimeout(timer), done()), { once: true });
              }),
            signal: stop.signal,
          });
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      }),
    );

  withSendOptions(
    oneLineErrors(program.command('restart'))
      .argument('<device>', 'device id')
      .argument('<workload>', 'the device workload: <app>-<workload> or <app>/<workload>')
      .description("restart a workload's container on a device (same container, new start)"),
  ).action((deviceId: string, workload: string, flags: SendFlags) =>
    run(flags, async (ctx) => {
      const name = deviceWorkload(workload);
      const within = flags.wait === undefined ? restartWaitSeconds((await ctx.client.desiredOf(deviceId)).desired, name) : undefined;
      await send(ctx, deviceId, { type: 'restart', workload: name }, flags, within);
    }),
  );

  withSendOptions(oneLineErrors(program.command('ping')).argument('<device>', 'device id').description('check that a device answers; prints its agent version and uptime')).action(
    (deviceId: string, flags: SendFlags) => run(flags, (ctx) => send(ctx, deviceId, { type: 'ping' }, flags)),
  );

  withSendOptions(
    oneLineErrors(program.command('resync')).argument('<device>', 'device id').description('ask a device for a full reconcile pass and a fresh report'),
  ).action((deviceId: string, flags: SendFlags) => run(flags, (ctx) => send(ctx, deviceId, { type: 'resync' }, flags)));

  const command = oneLineErrors(program.command('command').description('commands sent to devices'));
  withApiOptions(command.command('show').argument('<device>', 'device id').argument('<id>', 'command id').description('a command sent to a device: status and answer')).action(
    (deviceId: string, id: string, flags: ApiFlags) =>
      run(flags, async (ctx) => {
        const answer = await ctx.client.getCommand(deviceId, id);
        if (ctx.json) return ctx.printJson(answer);
        ctx.print(renderCommand(answer, view(ctx)));
      }),
  );

  withApiOptions(
    oneLineErrors(program.command('telemetry')).argument('<device>', 'device id').description("a device's latest telemetry: CPU, memory, disk, containers, MQTT bytes"),
  ).action((deviceId: string, flags: ApiFlags) =>
    run(flags, async (ctx) => {
      const answer = await ctx.client.telemetryOf(deviceId);
      if (ctx.json) return ctx.printJson(answer);
      ctx.print(renderTelemetry(deviceId, answer.telemetry, view(ctx)));
    }),
  );
}
