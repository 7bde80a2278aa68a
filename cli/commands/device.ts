import { writeFile } from 'node:fs/promises';
import { newSecret } from '../../shared/device-credentials.js';
import { deliveryLine } from '../output/delivery-view.js';
import { getSigningKeys, trustFileOf } from '../client/signing-client.js';
import type { Command } from 'commander';
import { renderDeviceDetail, renderDeviceList, renderEvents, renderOverrides } from '../output/device-view.js';
import { formatLabels } from '../output/format.js';
import { collect, deviceWorkload, integerArg, parseEnvChanges, parseLabelChanges, parsePairs, releaseRefArg } from './args.js';
import { CliError, oneLineErrors, run, usageError, withApiOptions, type ApiFlags, type CommandContext } from './command-context.js';
import { certificateLine, certificateRequest, checkCertificateFlags, issueAndWrite, registerDeviceCertCommand, withCertificateOptions, type CertificateFlags, type WrittenCertificate } from './device-certificate.js';

interface AddFlags extends ApiFlags, CertificateFlags {
  label: string[];
  secretFile?: string;
  trustOut?: string;
}
interface ListFlags extends ApiFlags {
  selector?: string;
}
interface LabelFlags extends ApiFlags {
  remove: string[];
}
interface RemoveFlags extends ApiFlags {
  yes?: boolean;
  wipe?: boolean;
  wipeTimeout?: string;
}
interface RotateFlags extends ApiFlags {
  secretFile?: string;
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

  withCertificateOptions(
    withApiOptions(device.command('add').argument('<id>', 'device id, e.g. kiosk-a').description('enrol a device: its secret is printed once (or --secret-file), a certificate written with --cert-out'))
      .option('--label <key=value>', 'a label (repeatable)', collect, [])
      .option('--secret-file <file>', 'write the secret to this file (mode 0600) instead of printing it')
      .option('--trust-out <file>', "write the controller's signing key(s) to this file: the agent's --trust"),
  )
    .action((id: string, flags: AddFlags) =>
      run(flags, async (ctx) => {
        const labels = parsePairs(flags.label, 'label');
        checkCertificateFlags(flags);
        const certificateAsked = flags.certOut === undefined ? undefined : await certificateRequest(id, { ...flags, certOut: flags.certOut });
        if (flags.trustOut) await writeFile(flags.trustOut, trustFileOf(await getSigningKeys(ctx.client)), { mode: 0o644 });
        // Generated here, so a retry after a lost answer is the same request
        // (the API answers it idempotently) and, with --secret-file, the
        // secret is on disk before the device exists.
        const secret = newSecret();
        if (flags.secretFile) await writeFile(flags.secretFile, `${secret}\n`, { mode: 0o600 });
        const answer = await ctx.client.addDevice({ id, labels, secret });
        // DD-027: the certificate is asked for once the device exists (it is issued only to enrolled devices).
        const certificate = certificateAsked === undefined ? undefined : await issueAndWrite(ctx, id, certificateAsked).catch((err: unknown) => {
          throw enrolledWithoutCertificate(id, err);
        });
        if (flags.secretFile || certificate) {
          if (ctx.json) return ctx.printJson({ device: answer.device, ...(flags.secretFile ? { secretFile: flags.secretFile } : {}), ...(certificate ? { certificate } : {}), delivery: answer.delivery });
          ctx.print(`Enrolled device ${answer.device.id} (labels: ${formatLabels(answer.device.labels)}); ${enrolmentFiles(flags.secretFile, certificate)}`);
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

  registerDeviceCertCommand(device);

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
        ctx.print(`Labels of ${answer.device.id}: ${formatLabels(answer.device.labels)}${pendingNote(answer.delivery)}`);
      }),
    );

  withApiOptions(
    device
      .command('rotate-secret')
      .argument('<id>')
      .description('issue a new secret for a device; the old one stops working and its live session ends at once'),
  )
    .option('--secret-file <file>', 'write the new secret to this file (mode 0600) instead of printing it')
    .action((id: string, flags: RotateFlags) =>
      run(flags, async (ctx) => {
        const secret = newSecret();
        if (flags.secretFile) await writeFile(flags.secretFile, `${secret}\n`, { mode: 0o600 });
        const answer = await ctx.client.rotateSecret(id, { secret });
        if (ctx.json) return ctx.printJson(flags.secretFile ? { deviceId: id, secretFile: flags.secretFile, brokersNotified: answer.brokersNotified } : answer);
        const ended =
          answer.brokersNotified > 0
            ? 'its live session with the old secret was ended'
            : 'no Outpost broker heard it (another broker?): a session with the old secret ends at its next reconnect';
        ctx.print(
          flags.secretFile
            ? `New secret for ${id} is in ${flags.secretFile}; ${ended}`
            : [`New secret for ${id}: ${answer.secret}`, `The old secret no longer works; ${ended}. The secret is shown only once.`].join('\n'),
        );
      }),
    );

  withApiOptions(
    device
      .command('rm')
      .alias('remove')
      .argument('<id>')
      .description('decommission a device: stop publishing to it, clear its topics, purge its broker session, revoke its secret, forget it'),
  )
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--wipe', "first tell the device to remove its workloads and wait (bounded) until it says it did")
    .option('--wipe-timeout <seconds>', 'how long --wipe waits for the device (default 120)')
    .action((id: string, flags: RemoveFlags) =>
      run(flags, async (ctx) => {
        if (!flags.yes) {
          if (!ctx.interactive) throw usageError(`decommissioning ${id} needs --yes when not run from a terminal`);
          const what = flags.wipe ? 'Its workloads are removed, its' : 'Its';
          if (!(await ctx.confirm(`Decommission ${id}? ${what} secret stops working and its broker session is purged.`))) {
            throw new CliError('ABORTED', 'nothing removed');
          }
        }
        const answer = await ctx.client.removeDevice(id, {
          wipe: flags.wipe === true,
          ...(flags.wipeTimeout !== undefined ? { wipeTimeoutSeconds: integerArg(flags.wipeTimeout, '--wipe-timeout') } : {}),
        });
        const d = answer.decommission;
        if (ctx.json) return ctx.printJson(answer);
        const wiped =
          d.wiped === 'confirmed' ? '; the device removed its workloads' : d.wiped === 'unconfirmed' ? '; the device did not confirm it removed its workloads in time (they may still run)' : '';
        if (d.state === 'done') {
          ctx.print(`Device ${id} decommissioned${wiped}`);
          return;
        }
        ctx.print(
          `Device ${id} is being decommissioned${wiped}; step ${d.remaining[0] ?? '?'} failed (${d.lastError ?? 'unknown'}) and is retried by itself. ` +
            `\`outpost device show ${id}\` follows it.`,
        );
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
        ctx.print(`Overrides of ${answer.device.id}:\n${renderOverrides(answer.device.overrides).replace(/^/gm, '  ')}${pendingNote(answer.delivery)}`);
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
      ctx.print(`${answer.device.id}: ${ref.app} pinned to ${ref.version}${pendingNote(answer.delivery)}`);
    }),
  );

  withApiOptions(device.command('unpin').argument('<id>').argument('<app>').description('remove a pin: the app follows deployments again')).action(
    (id: string, app: string, flags: ApiFlags) =>
      run(flags, async (ctx) => {
        const answer = await ctx.client.unpin(id, app);
        if (ctx.json) return ctx.printJson(answer);
        ctx.print(`${answer.device.id}: ${app} follows deployments again${pendingNote(answer.delivery)}`);
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

/** Where an enrolment's secret and certificate went. With a certificate alone the secret is kept nowhere: the certificate is the device's credential. */
function enrolmentFiles(secretFile: string | undefined, certificate: WrittenCertificate | undefined): string {
  const parts = [...(secretFile ? [`its secret is in ${secretFile}`] : []), ...(certificate ? [certificateLine(certificate)] : [])];
  return parts.join('; ');
}

/** The device exists but has no certificate: say so, and how to get one, keeping the API's code. */
function enrolledWithoutCertificate(id: string, err: unknown): CliError {
  const code = typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'CERTIFICATE_FAILED';
  const why = err instanceof Error ? err.message : String(err);
  return new CliError(code, `device ${id} is enrolled, but no certificate was issued: ${why}; once fixed, \`outpost device cert ${id} --cert-out …\` issues one`, 1, { cause: err });
}

/** Nothing when the change is on the broker; otherwise a line saying it is stored and goes out by itself. */
function pendingNote(delivery: Parameters<typeof deliveryLine>[0]): string {
  return delivery?.state === 'pending' ? `\n${deliveryLine(delivery, 0)}` : '';
}
