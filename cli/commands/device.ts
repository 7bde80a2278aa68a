import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { renderDeviceDetail, renderDeviceList, renderEvents, renderOverrides } from '../output/device-view.js';
import { formatLabels } from '../output/format.js';
import { collect, deviceWorkload, integerArg, parseEnvChanges, parseLabelChanges, parsePairs, releaseRefArg } from './args.js';
import { CliError, oneLineErrors, run, usageError, withApiOptions, type ApiFlags, type CommandContext } from './command-context.js';

interface AddFlags extends ApiFlags {
  label: string[];
  secretFile?: string;
}
interface ListFlags extends ApiFlags {
  selector?: string;
}
interface LabelFlags extends ApiFlags {
  remove: string[];
}
interface RemoveFlags extends ApiFlags {
  yes?: boolean;
}
interface OverrideFlags extends ApiFlags {
  workload?: string;
  unset: string[];
}
interface EventFlags extends ApiFlags {
  limit?: string;
}

const view = (ctx: CommandContext) => ({ now: ctx.now(), color: ctx.color });

/** `outpost device …`: enrol, inspect, label, override, pin and decommission devices. */
export function registerDeviceCommands(program: Command): void {
  const device = oneLineErrors(program.command('device').description('enrol, inspect and configure devices'));

  withApiOptions(device.command('add').argument('<id>', 'device id, e.g. kiosk-a').description('enrol a device and print its secret (shown only once)'))
    .option('--label <key=value>', 'a label (repeatable)', collect, [])
    .option('--secret-file <file>', 'write the secret to this file (mode 0600) instead of printing it')
    .action((id: string, flags: AddFlags) =>
      run(flags, async (ctx) => {
        const labels = parsePairs(flags.label, 'label');
        const answer = await ctx.client.addDevice({ id, labels });
        if (flags.secretFile) {
          await writeFile(flags.secretFile, `${answer.secret}\n`, { mode: 0o600 });
          if (ctx.json) return ctx.printJson({ device: answer.device, secretFile: flags.secretFile });
          ctx.print(`Enrolled device ${answer.device.id} (labels: ${formatLabels(answer.device.labels)}); its secret is in ${flags.secretFile}`);
          return;
        }
        if (ctx.json) return ctx.printJson(answer);
        ctx.print(
          [
            `Enrolled device ${answer.device.id} (labels: ${formatLabels(answer.device.labels)})`,
            `Secret: ${answer.secret}`,
            'The secret is shown only once (only its hash is stored): give it to the agent now, e.g. with --secret-file.',
          ].join('\n'),
        );
      }),
    );

  withApiOptions(device.command('ls').alias('list').description('list devices: online, phase, desired and applied versions'))
    .option('--selector <selector>', 'only devices whose labels match, e.g. "role=kiosk,site in (a,b)"')
    .action((flags: ListFlags) =>
      run(flags, async (ctx) => {
        const answer = await ctx.client.listDevices(flags.selector);
        if (ctx.json) return ctx.printJson(answer);
        ctx.print(renderDeviceList(answer.devices, view(ctx)));
      }),
    );

  withApiOptions(device.command('show').argument('<id>').description('show a device: labels, overrides, per-app resolution, versions, workloads, errors'))
    .action((id: string, flags: ApiFlags) =>
      run(flags, async (ctx) => {
        const answer = await ctx.client.getDevice(id);
        if (ctx.json) return ctx.printJson(answer);
        ctx.print(renderDeviceDetail(answer, view(ctx)));
      }),
    );

  withApiOptions(
    device
      .command('label')
      .argument('<id>')
      .argument('[changes...]', 'key=value sets a label, key- removes it')
      .description('set and remove labels (selectors re-evaluate: the device may enter or leave deployments)'),
  )
    .option('--remove <key>', 'remove a label (repeatable)', collect, [])
    .action((id: string, changes: string[], flags: LabelFlags) =>
      run(flags, async (ctx) => {
        const answer = await ctx.client.updateLabels(id, parseLabelChanges(changes, flags.remove));
        if (ctx.json) return ctx.printJson(answer);
        ctx.print(`Labels of ${answer.device.id}: ${formatLabels(answer.device.labels)}`);
      }),
    );

  withApiOptions(device.command('rm').alias('remove').argument('<id>').description('decommission a device: revoke its secret, purge its broker session, forget it'))
    .option('-y, --yes', 'do not ask for confirmation')
    .action((id: string, flags: RemoveFlags) =>
      run(flags, async (ctx) => {
        if (!flags.yes) {
          if (!ctx.interactive) throw usageError(`decommissioning ${id} needs --yes when not run from a terminal`);
          if (!(await ctx.confirm(`Decommission ${id}? Its secret stops working and its broker session is purged.`))) {
            throw new CliError('ABORTED', 'nothing removed');
          }
        }
        await ctx.client.removeDevice(id);
        if (ctx.json) return ctx.printJson({ id, removed: true });
        ctx.print(`Device ${id} decommissioned`);
      }),
    );

  withApiOptions(
    device
      .command('override')
      .argument('<id>')
      .argument('[env...]', 'KEY=VALUE environment overrides')
      .description('set per-device environment overrides; they win over every release and survive every deployment'),
  )
    .option('--workload <name>', 'only for this workload of the device: <app>-<workload> or <app>/<workload>')
    .option('--unset <key>', 'remove an override (repeatable)', collect, [])
    .action((id: string, env: string[], flags: OverrideFlags) =>
      run(flags, async (ctx) => {
        const patch = parseEnvChanges(env, flags.unset);
        const answer = await ctx.client.setOverrides(id, flags.workload ? { workloadEnv: { [deviceWorkload(flags.workload)]: patch } } : { env: patch });
        if (ctx.json) return ctx.printJson(answer);
        ctx.print(`Overrides of ${answer.device.id}:\n${renderOverrides(answer.device.overrides).replace(/^/gm, '  ')}`);
      }),
    );

  withApiOptions(
    device
      .command('pin')
      .argument('<id>')
      .argument('<app>', 'app name (or APP@VERSION)')
      .argument('[version]', 'release version to stay on')
      .description('keep an app on a device at one release version, whatever deployments say'),
  ).action((id: string, app: string, version: string | undefined, flags: ApiFlags) =>
    run(flags, async (ctx) => {
      const ref = version === undefined ? releaseRefArg(app) : { app, version };
      const answer = await ctx.client.pin(id, ref.app, ref.version);
      if (ctx.json) return ctx.printJson(answer);
      ctx.print(`${answer.device.id}: ${ref.app} pinned to ${ref.version}`);
    }),
  );

  withApiOptions(device.command('unpin').argument('<id>').argument('<app>').description('remove a pin: the app follows deployments again')).action(
    (id: string, app: string, flags: ApiFlags) =>
      run(flags, async (ctx) => {
        const answer = await ctx.client.unpin(id, app);
        if (ctx.json) return ctx.printJson(answer);
        ctx.print(`${answer.device.id}: ${app} follows deployments again`);
      }),
  );

  withApiOptions(device.command('events').argument('<id>').description("a device's recent events (reconcile steps, errors)"))
    .option('--limit <n>', 'how many events (default 50)')
    .action((id: string, flags: EventFlags) =>
      run(flags, async (ctx) => {
        const answer = await ctx.client.eventsOf(id, flags.limit === undefined ? undefined : integerArg(flags.limit, '--limit'));
        if (ctx.json) return ctx.printJson(answer);
        ctx.print(renderEvents(answer.events, view(ctx)));
      }),
    );
}
