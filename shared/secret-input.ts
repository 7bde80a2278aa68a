import { readFileSync, statSync } from 'node:fs';

/**
 * Secrets come from files or the environment, never from the command line
 * (DD-025): arguments are visible to every local user (ps, /proc/<pid>/cmdline)
 * and end up in shell history.
 */

/** A secret file that group or others may access: worth a warning, not a refusal (containers often mount secrets 0644). */
export interface SecretFileWarning {
  file: string;
  /** Permission bits in octal, e.g. "0644". */
  mode: string;
}

/** The warning for a file whose permissions let group or others in, or null (also on Windows, which has no such bits). */
export function secretFileWarning(file: string, platform: NodeJS.Platform = process.platform): SecretFileWarning | null {
  if (platform === 'win32') return null;
  const mode = statSync(file).mode & 0o777;
  return (mode & 0o077) === 0 ? null : { file, mode: `0${mode.toString(8).padStart(3, '0')}` };
}

/** The file's content without surrounding whitespace; a warning is added to `warnings` when group or others may access it. */
export function readSecretFile(file: string, warnings: SecretFileWarning[]): string {
  const value = readFileSync(file, 'utf8').trim();
  const warning = secretFileWarning(file);
  if (warning) warnings.push(warning);
  return value;
}

export const SECRET_FILE_WARNING = 'secret file is accessible to group or others; restrict it with chmod 600';

/** The error for a secret given as a command-line flag, naming where it goes instead. */
export function secretOnCommandLine(flag: string, alternatives: string): string {
  return `${flag} is not accepted: a secret on the command line is visible to every local user (ps) and kept in shell history; use ${alternatives}`;
}

/**
 * A secret piped on stdin (`--password-stdin`, like `docker login`): the
 * whole stream, less one trailing newline (echo adds it). Leading and inner
 * whitespace are kept: they may be part of the secret.
 */
export async function readSecretStream(stream: AsyncIterable<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}
