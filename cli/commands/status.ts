import type { Command } from 'commander';
import { renderFleet } from '../output/fleet-view.js';
import { oneLineErrors, run, withApiOptions, type ApiFlags } from './command-context.js';

/** `outpost status`: the fleet at a glance. */
export function registerStatusCommand(program: Command): void {
  withApiOptions(oneLineErrors(program.command('status').description('fleet summary: devices online/offline, phases, in sync, releases desired vs running'))).action(
    (flags: ApiFlags) =>
      run(flags, async (ctx) => {
        const answer = await ctx.client.fleet();
        if (ctx.json) return ctx.printJson(answer);
        ctx.print(renderFleet(answer, { now: ctx.now(), color: ctx.color }));
      }),
  );
}
