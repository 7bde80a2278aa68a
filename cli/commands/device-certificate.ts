import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { writeFileAtomic } from '../../agent/state/atomic-file.js';
import { issueDeviceCertificate, type IssuedCertificateBody } from '../client/certificate-client.js';
import { integerArg } from './args.js';
import { CliError, EXIT_BAD_INPUT, run, usageError, withApiOptions, type ApiFlags, type CommandContext } from './command-context.js';

/** The flags `device add` and `device cert` share. */
export interface CertificateFlags {
  certOut?: string;
  caOut?: string;
  csr?: string;
  certDays?: string;
}

export interface WrittenCertificate {
  certFile: string;
  /** null when the key came from --csr (it never left the device). */
  keyFile: string | null;
  caFile: string | null;
  serialNumber: string;
  notAfter: string;
}

/** Adds --cert-out, --ca-out, --csr and --cert-days to a command. */
export function withCertificateOptions(command: Command): Command {
  return command
    .option('--cert-out <dir-or-prefix>', "write a device certificate from the control plane's CA: DIR/ID.pem and DIR/ID-key.pem (0600), or PREFIX.pem and PREFIX-key.pem: the agent's --cert and --key")
    .option('--ca-out <file>', "with --cert-out: write the CA certificate too (with outpost up, the CA of the broker's certificate: the agent's --ca)")
    .option('--csr <file>', 'with --cert-out: sign this PEM certificate request made on the device instead of generating a key')
    .option('--cert-days <days>', 'with --cert-out: days the certificate is valid (default 825)');
}

/** Refuses certificate flags that make no sense without --cert-out, before anything is changed. */
export function checkCertificateFlags(flags: CertificateFlags): void {
  if (flags.certOut !== undefined) return;
  for (const [given, name] of [[flags.caOut, '--ca-out'], [flags.csr, '--csr'], [flags.certDays, '--cert-days']] as const) {
    if (given !== undefined) throw usageError(`${name} needs --cert-out`);
  }
}

/** ID.pem and ID-key.pem in a directory ('.', an existing one, or one written with a trailing /), else PREFIX.pem and PREFIX-key.pem. */
export async function certificatePaths(id: string, certOut: string): Promise<{ cert: string; key: string }> {
  const isDir = /[/\\]$/.test(certOut) || (await stat(certOut).then((s) => s.isDirectory()).catch(() => false));
  const prefix = isDir ? join(certOut, id) : certOut;
  return { cert: `${prefix}.pem`, key: `${prefix}-key.pem` };
}

/** What to ask for and where to write it, read from the flags before anything is changed (a bad --csr fails before an enrolment). */
export interface CertificateRequest {
  readonly paths: { cert: string; key: string };
  readonly caOut: string | undefined;
  readonly input: { csr?: string; validityDays?: number };
}

export async function certificateRequest(id: string, flags: CertificateFlags & { certOut: string }): Promise<CertificateRequest> {
  const input: { csr?: string; validityDays?: number } = {};
  if (flags.csr !== undefined) input.csr = await readInput(flags.csr);
  if (flags.certDays !== undefined) input.validityDays = integerArg(flags.certDays, '--cert-days');
  return { paths: await certificatePaths(id, flags.certOut), caOut: flags.caOut, input };
}

/**
 * Issues a certificate for `id` and writes it. Files are replaced whole
 * (write, then rename), so an agent that reads them at every reconnect never
 * sees half a file; the key is 0600 from its first byte.
 */
export async function issueAndWrite(ctx: CommandContext, id: string, request: CertificateRequest): Promise<WrittenCertificate> {
  const { paths, caOut } = request;
  const issued: IssuedCertificateBody = await issueDeviceCertificate(ctx.client, id, request.input);
  await mkdir(dirname(paths.cert), { recursive: true });
  if (issued.key !== null) await writeFileAtomic(paths.key, issued.key);
  await writePublic(paths.cert, issued.certificate);
  if (caOut !== undefined) await writePublic(caOut, issued.ca);
  return { certFile: paths.cert, keyFile: issued.key === null ? null : paths.key, caFile: caOut ?? null, serialNumber: issued.serialNumber, notAfter: issued.notAfter };
}

/** One line for humans: where the files are and until when the certificate is valid. */
export function certificateLine(written: WrittenCertificate): string {
  const key = written.keyFile ? `, its key in ${written.keyFile}` : '';
  const ca = written.caFile ? `; the CA certificate is in ${written.caFile}` : '';
  return `its certificate is in ${written.certFile}${key} (valid until ${written.notAfter})${ca}`;
}

async function writePublic(file: string, pem: string): Promise<void> {
  await writeFileAtomic(file, pem);
  await chmod(file, 0o644);
}

async function readInput(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError('CSR_FILE_UNREADABLE', `cannot read the certificate request ${file}: ${(err as Error).message}`, EXIT_BAD_INPUT, { cause: err });
  }
}

/** `outpost device cert ID --cert-out …`: a new certificate for an enrolled device (renewal, a lost key, a request made on the device). */
export function registerDeviceCertCommand(device: Command): void {
  withCertificateOptions(
    withApiOptions(
      device
        .command('cert')
        .argument('<id>')
        .description("issue a certificate for an enrolled device from the control plane's CA (earlier ones stay valid until they expire)"),
    ),
  ).action((id: string, flags: ApiFlags & CertificateFlags) =>
    run(flags, async (ctx) => {
      const certOut = flags.certOut;
      if (certOut === undefined) throw usageError('device cert needs --cert-out DIR_OR_PREFIX: the key is written only to a file (0600)');
      const written = await issueAndWrite(ctx, id, await certificateRequest(id, { ...flags, certOut }));
      if (ctx.json) return ctx.printJson({ deviceId: id, ...written });
      ctx.print(`New certificate for ${id}: ${certificateLine(written)}`);
    }),
  );
}
