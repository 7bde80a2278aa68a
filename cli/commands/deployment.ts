import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { publishedCount } from '../client/responses.js';
import { deploymentCounts, deploymentWarnings, formatApplyPolicy, renderDeploymentDetail, renderDeploymentList } from '../output/deployment-view.js';
import { deliveryLine } from '../output/delivery-view.js';
import { formatTarget } from '../output/format.js';
import { applyPolicyFromFlags, type ApplyPolicyFlags } from './apply-policy-flags.js';
import { collect, integerArg, releaseRefArg } from './args.js';
import { oneLineErrors, run, usageError, withApiOptions, type ApiFlags } from './command-context.js';

interface DeployFlags extends ApiFlags, ApplyPolicyFlags {
  to?: string;
  device: string[];
  priority?: string;
  id?: string;
}

/** `outpost deploy` and `outpost deployment …`: assign a release to devices by selector or by id. */
export function registerDeploymentCommands(program: Command): void {
  withApiOptions(
    oneLineErrors(
      program
        .command('deploy')
        .argument('<release>', 'APP@VERSION')
        .description('deploy a release to the devices a selector matches, or to listed devices; per app the highest priority wins'),
    ),
  )
    .option('--to <selector>', 'label selector, e.g. "role=kiosk" or "site in (a,b),!canary"')
    .option('--device <id>', 'a device id (repeatable); instead of --to', collect, [])
    .option('--priority <n>', 'integer; higher wins over other deployments of the app (default 0)')
    .option('--id <id>', 'deployment id (default: generated)')
    .option('--window <cron>', 'apply only inside this maintenance window: a 5-field cron of its starts, e.g. "0 2 * * *" (devices download at once)')
    .option('--window-duration <minutes>', 'how long the --window stays open after each start')
    .option('--timezone <tz>', 'IANA timezone of the --window cron, e.g. Europe/Berlin (default UTC)')
    .option('--after <time>', 'apply not before this time, e.g. 2026-12-01T02:00:00Z (devices download at once)')
    .option('--force', 'apply even while a workload holds its update lock')
    .action((ref: string, flags: DeployFlags) =>
      run(flags, async (ctx) => {
        const { app, version } = releaseRefArg(ref);
        if ((flags.to === undefined) === (flags.device.length === 0)) throw usageError('give either --to SELECTOR or --device ID (one or more), not both');
        const apply = applyPolicyFromFlags(flags);
        // An id chosen here makes the request idempotent, so the client can retry it safely (DD-021).
        const id = flags.id ?? `dep-${randomBytes(5).toString('hex')}`;
        const answer = await ctx.client.createDeployment({
          app,
          version,
          target: flags.to !== undefined ? { kind: 'selector', selector: flags.to } : { kind: 'devices', devices: flags.device },
          ...(flags.priority !== undefined ? { priority: integerArg(flags.priority, '--priority') } : {}),
          ...(apply ? { apply } : {}),
          id,
        });
        if (ctx.json) return ctx.printJson(answer);
        const d = answer.deployment;
        ctx.print(
          [
            `Deployed ${d.app}@${d.version} as ${d.id} to ${formatTarget(d.target)} (priority ${d.priority})`,
            ...(d.apply ? [`  applies ${formatApplyPolicy(d.apply)}`] : []),
            `  ${deploymentCounts(d)}`,
            `  ${deliveryLine(answer.delivery, publishedCount(answer.published))}`,
          ].join('\n'),
        );
        const shadowedAll = d.targeted.length > 0 && d.shadowed.length === d.targeted.length;
        const others = shadowedAll ? (await ctx.client.listDeployments()).deployments : [];
        for (const w of deploymentWarnings(d, others)) ctx.warn(w);
      }),
    );

  const deployment = oneLineErrors(program.command('deployment').description('inspect and remove deployments'));

  withApiOptions(deployment.command('ls').alias('list').description('list deployments')).action((flags: ApiFlags) =>
    run(flags, async (ctx) => {
      const answer = await ctx.client.listDeployments();
      if (ctx.json) return ctx.printJson(answer);
      ctx.print(renderDeploymentList(answer.deployments, { now: ctx.now(), color: ctx.color }));
    }),
  );

  withApiOptions(deployment.command('show').argument('<id>').description('show a deployment: targeted, applied, shadowed, pinned and running devices')).action(
    (id: string, flags: ApiFlags) =>
      run(flags, async (ctx) => {
        const answer = await ctx.client.getDeployment(id);
        if (ctx.json) return ctx.printJson(answer);
        ctx.print(renderDeploymentDetail(answer, { now: ctx.now(), color: ctx.color }));
      }),
  );

  withApiOptions(deployment.command('rm').alias('remove').argument('<id>').description('remove a deployment; its devices fall back to the next deployment of the app, or drop it')).action(
    (id: string, flags: ApiFlags) =>
      run(flags, async (ctx) => {
        const answer = await ctx.client.removeDeployment(id);
        if (ctx.json) return ctx.printJson(answer);
        ctx.print(`Deployment ${id} ${answer.alreadyRemoved ? 'was already removed' : 'removed'}; ${deliveryLine(answer.delivery, publishedCount(answer.published))}`);
      }),
  );
}
