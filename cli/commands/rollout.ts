import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { ApiClientError } from '../client/api-client.js';
import {
  createRollout,
  getRollout,
  listRollouts,
  operateRollout,
  type RolloutOperationName,
  type RolloutDetailBody,
  type RolloutSummaryBody,
} from '../client/rollout-client.js';
import { failureLines, renderRolloutDetail, renderRolloutList, watchFrame, watchLine } from '../output/rollout-view.js';
import { DEFAULT_WAVES, RolloutSpecError, specFromFile, specFromFlags, type RolloutFlags } from '../rollout-spec.js';
import { collect } from './args.js';
import { CliError, EXIT_BAD_INPUT, oneLineErrors, run, usageError, withApiOptions, type ApiFlags, type CommandContext } from './command-context.js';

/** `rollout watch` exit codes: 0 succeeded, these when the rollout stopped otherwise. */
export const WATCH_EXIT = { paused: 3, aborted: 4, 'rolled-back': 5 } as const;

interface CreateFlags extends ApiFlags, RolloutFlags {
  file?: string;
  watch?: boolean;
}

interface WatchFlags extends ApiFlags {
  interval?: string;
}

const OPERATIONS: { name: RolloutOperationName; description: string; done: string }[] = [
  { name: 'pause', description: 'stop notifying devices; reports are still recorded', done: 'paused' },
  { name: 'resume', description: 'continue a paused rollout (a failed wave is accepted and the next one starts)', done: 'resumed' },
  { name: 'abort', description: 'stop for good; devices already moved stay on the new release', done: 'aborted' },
  { name: 'rollback', description: 'move every device the rollout moved back to its previous release (as a new version)', done: 'rolling back' },
  { name: 'advance', description: 'mark the current wave passed by hand and start the next one', done: 'advanced' },
];

const specFlags: (keyof RolloutFlags)[] = [
  'app', 'to', 'selector', 'waves', 'exponential', 'canarySelector', 'rate', 'successThreshold', 'maxFailure',
  'minSample', 'deviceTimeout', 'onFailure', 'startAt', 'window', 'windowLabel', 'priority',
];

async function specOf(flags: CreateFlags): Promise<Record<string, unknown>> {
  try {
    if (flags.file === undefined) return specFromFlags(flags);
    const given = specFlags.filter((k) => flags[k] !== undefined);
    if (given.length || flags.device.length || flags.canary.length || flags.deviceWindow.length) {
      throw usageError('--file cannot be combined with rollout flags (only --id)');
    }
    let text: string;
    try {
      text = await readFile(flags.file, 'utf8');
    } catch (err) {
      throw new CliError('ROLLOUT_FILE_UNREADABLE', `cannot read ${flags.file}: ${err instanceof Error ? err.message : String(err)}`, EXIT_BAD_INPUT, { cause: err });
    }
    const spec = specFromFile(text, flags.file);
    return flags.id !== undefined ? { ...spec, id: flags.id } : spec;
  } catch (err) {
    if (err instanceof RolloutSpecError) throw usageError(err.message);
    throw err;
  }
}

/** `outpost rollout …`: move a release to a target in waves, watch it, steer it. */
export function registerRolloutCommands(program: Command): void {
  const rollout = oneLineErrors(program.command('rollout').description('move a release to devices in waves, with thresholds, timeouts and maintenance windows'));

  withApiOptions(rollout.command('create').description('create a rollout (it starts at --start-at, or at once)'))
    .option('--app <app>', 'the app to move')
    .option('--to <version>', 'the release version to move it to')
    .option('--selector <selector>', 'target: devices matching a label selector, e.g. "role=kiosk"')
    .option('--device <id>', 'target: a device id (repeatable); instead of --selector', collect, [])
    .option('--waves <sizes>', `cumulative wave sizes, counts or percentages (default ${DEFAULT_WAVES})`)
    .option('--exponential <initial:factor>', 'wave k holds initial × factor^k devices, e.g. 1:2')
    .option('--canary <id>', 'a canary device, first wave on its own (repeatable)', collect, [])
    .option('--canary-selector <selector>', 'canary devices by label selector')
    .option('--rate <n>', 'at most n devices notified per minute')
    .option('--success-threshold <pct>', 'a wave passes when this % of its devices succeeded (default 100)')
    .option('--max-failure <pct>', 'failed + timed out above this % of a wave takes the failure action (default 0)')
    .option('--min-sample <n>', 'devices of a wave that must be done before failures can trip (default 1)')
    .option('--device-timeout <duration>', 'a device not succeeded this long after notification times out, e.g. 30m (default 30m)')
    .option('--on-failure <action>', 'pause (default) or rollback')
    .option('--start-at <time>', 'start at this date-time (ISO 8601)')
    .option('--window <cron|minutes|tz>', "maintenance window for every device, e.g. '0 2 * * *|120|Europe/Berlin'")
    .option('--device-window <name=cron|minutes|tz>', 'a named window for devices labelled maintenance-window=<name> (repeatable)', collect, [])
    .option('--window-label <key>', 'the label naming a device\'s window (default maintenance-window)')
    .option('--priority <n>', 'priority of the rollout\'s deployment (default 1000000, above ordinary deployments)')
    .option('--id <id>', 'rollout id (default: generated)')
    .option('--file <file>', 'the whole spec as YAML or JSON (API field names) instead of the flags')
    .option('--watch', 'watch the rollout after creating it (see rollout watch)')
    .action((flags: CreateFlags) =>
      run(flags, async (ctx) => {
        const created = await createRollout(ctx.client, await specOf(flags));
        if (flags.watch) return watch(ctx, created.id, 1000);
        if (ctx.json) return ctx.printJson({ rollout: created });
        const devices = created.waves.reduce((n, w) => n + w.size, 0);
        ctx.print(
          [
            `Created rollout ${created.id}: ${created.app}@${created.toVersion} to ${devices} device${devices === 1 ? '' : 's'} in ${created.waves.length} wave${created.waves.length === 1 ? '' : 's'} (${created.waves.map((w) => w.size).join(', ')})`,
            `  follow it with: outpost rollout watch ${created.id}`,
          ].join('\n'),
        );
      }),
    );

  withApiOptions(rollout.command('ls').alias('list').description('list rollouts')).action((flags: ApiFlags) =>
    run(flags, async (ctx) => {
      const rollouts = await listRollouts(ctx.client);
      if (ctx.json) return ctx.printJson({ rollouts });
      ctx.print(renderRolloutList(rollouts, { now: ctx.now(), color: ctx.color }));
    }),
  );

  withApiOptions(rollout.command('show').argument('<id>').description('show a rollout: phase, waves with counts, every device with its status and reason')).action(
    (id: string, flags: ApiFlags) =>
      run(flags, async (ctx) => {
        const r = await getRollout(ctx.client, id);
        if (ctx.json) return ctx.printJson({ rollout: r });
        ctx.print(renderRolloutDetail(r, { now: ctx.now(), color: ctx.color }));
      }),
  );

  for (const op of OPERATIONS) {
    withApiOptions(rollout.command(op.name).argument('<id>').description(op.description)).action((id: string, flags: ApiFlags) =>
      run(flags, async (ctx) => {
        const r = await operateRollout(ctx.client, id, op.name);
        if (ctx.json) return ctx.printJson({ rollout: r });
        ctx.print(`Rollout ${r.id} ${op.done}; phase ${r.phase}${r.reason ? ` (${r.reason})` : ''}`);
      }),
    );
  }

  withApiOptions(
    rollout
      .command('watch')
      .argument('<id>')
      .description(
        `live progress until the rollout ends: exit 0 when it succeeded, ${WATCH_EXIT.paused} paused, ${WATCH_EXIT.aborted} aborted, ${WATCH_EXIT['rolled-back']} rolled back`,
      ),
  )
    .option('--interval <seconds>', 'seconds between polls (default 1)')
    .action((id: string, flags: WatchFlags) =>
      run(flags, async (ctx) => {
        const seconds = flags.interval === undefined ? 1 : Number(flags.interval);
        if (!Number.isFinite(seconds) || seconds <= 0) throw usageError(`--interval must be a positive number of seconds, got ${JSON.stringify(flags.interval)}`);
        await watch(ctx, id, seconds * 1000);
      }),
    );
}

const TRANSIENT = new Set(['API_UNREACHABLE', 'API_TIMEOUT', 'UNAVAILABLE']);
/** How long the API may be unreachable during a watch before it gives up. */
const TRANSIENT_LIMIT_MS = 60_000;

/**
 * Polls the rollout: on a terminal it redraws progress bars in place, else it
 * prints one line whenever something changed (`--json`: one JSON summary per
 * change). Ends when the rollout succeeded, paused, aborted or rolled back.
 */
async function watch(ctx: CommandContext, id: string, intervalMs: number): Promise<void> {
  const tty = process.stdout.isTTY === true && !ctx.json;
  let drawn = 0;
  let last = '';
  let unreachableSince: number | null = null;
  for (;;) {
    let r: RolloutDetailBody;
    try {
      r = await getRollout(ctx.client, id);
      unreachableSince = null;
    } catch (err) {
      if (!(err instanceof ApiClientError) || !TRANSIENT.has(err.code)) throw err;
      unreachableSince ??= Date.now();
      if (Date.now() - unreachableSince > TRANSIENT_LIMIT_MS) throw err;
      await new Promise((res) => setTimeout(res, intervalMs));
      continue;
    }
    if (tty) {
      const frame = watchFrame(r, { now: ctx.now(), color: ctx.color });
      const text = frame.join('\n');
      if (text !== last) {
        // Back to the top of the previous frame, then rewrite every line (blank ones where it was longer).
        const lines = [...frame, ...Array<string>(Math.max(0, drawn - frame.length)).fill('')];
        process.stdout.write(`${drawn ? `\u001b[${drawn}F` : ''}${lines.map((l) => `\u001b[2K${l}`).join('\n')}\n`);
        drawn = lines.length;
        last = text;
      }
    } else {
      const line = ctx.json ? JSON.stringify(summaryOnly(r)) : watchLine(r);
      if (line !== last) {
        process.stdout.write(`${ctx.json ? '' : `${new Date().toISOString()} `}${line}\n`);
        last = line;
      }
    }
    const end = ending(r);
    if (end) {
      // The devices that made it stop, and why: no second command needed to find out.
      if (!ctx.json) ctx.print([end.message, ...(r.phase === 'succeeded' ? [] : failureLines(r))].join('\n'));
      process.exitCode = end.exitCode;
      return;
    }
    await new Promise((res) => setTimeout(res, intervalMs));
  }
}

function summaryOnly(r: RolloutSummaryBody): Record<string, unknown> {
  const { id, app, toVersion, phase, currentWave, reason, totals, lateSuccesses, waves, revision, updatedAt } = r;
  return { id, app, toVersion, phase, currentWave, reason, totals, lateSuccesses, waves: waves.map((w) => ({ index: w.index, size: w.size, outcome: w.outcome, counts: w.counts })), revision, updatedAt };
}

function ending(r: RolloutSummaryBody): { exitCode: number; message: string } | null {
  const why = r.reason ? `: ${r.reason}` : '';
  switch (r.phase) {
    case 'succeeded':
      return { exitCode: 0, message: `Rollout ${r.id} succeeded: ${r.totals.succeeded} devices run ${r.app}@${r.toVersion}` };
    case 'paused':
      return { exitCode: WATCH_EXIT.paused, message: `Rollout ${r.id} is paused${why} (outpost rollout resume|rollback|abort ${r.id})` };
    case 'aborted':
      return { exitCode: WATCH_EXIT.aborted, message: `Rollout ${r.id} was aborted${why}` };
    case 'rolled-back':
      return { exitCode: WATCH_EXIT['rolled-back'], message: `Rollout ${r.id} was rolled back${why}` };
    default:
      return null;
  }
}
