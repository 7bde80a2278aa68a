import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { isLoopbackHost } from '../../shared/loopback.js';
import { ApiClient, ApiClientError, DEFAULT_TIMEOUT_MS } from '../client/api-client.js';
import { fetchWithCa } from '../client/fetch-with-ca.js';
import { ReleaseFileError } from '../release-file.js';
import { readSecretFile, SECRET_FILE_WARNING, type SecretFileWarning } from '../../shared/secret-input.js';
import { CliConfigError, cliConfigPath, readCliConfig, type CliContext } from '../config/cli-config.js';

export const DEFAULT_API_URL = 'http://127.0.0.1:8080';
/** API errors and bad command-line usage. */
export const EXIT_FAILURE = 1;
/** Bad local input: an unreadable or invalid file. */
export const EXIT_BAD_INPUT = 2;

/** A failure on the CLI's side, with the code shown in `outpost: <message> (<CODE>)`. */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
  }
}

export const usageError = (message: string): CliError => new CliError('USAGE', message);

/** The options every API command takes. */
export interface ApiFlags {
  api?: string;
  tokenFile?: string;
  timeout?: string;
  json?: boolean;
  ca?: string;
  insecurePlaintext?: boolean;
  context?: string;
}

export interface CommandContext {
  readonly client: ApiClient;
  readonly json: boolean;
  readonly color: boolean;
  now(): Date;
  /** One block of human output (a newline is added). */
  print(text: string): void;
  /** The machine answer of `--json`. */
  printJson(value: unknown): void;
  /** `outpost: warning: …` on stderr: the command did what it was asked, but probably not what was meant. */
  warn(text: string): void;
  /** Asks on the terminal; false when the answer is not yes. */
  confirm(question: string): Promise<boolean>;
  readonly interactive: boolean;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Adds the API options and the one-line error format to a command that talks to the API. */
export function withApiOptions(command: Command): Command {
  return command
    .option('--api <url>', `Outpost API URL (env OUTPOST_API, default ${DEFAULT_API_URL})`)
    .option('--token-file <file>', 'file holding the API token (env OUTPOST_TOKEN_FILE, or the token in OUTPOST_TOKEN; default: .outpost/admin-token when present)')
    .option('--timeout <seconds>', `give up on an API request after this long (default ${DEFAULT_TIMEOUT_MS / 1000})`)
    .option('--ca <file>', "PEM CA that signed the API's certificate, for an https:// API (env OUTPOST_CA; default: the system's CAs)")
    .option('--insecure-plaintext', 'allow http:// to an API on another machine: the token crosses the network in clear (env OUTPOST_INSECURE_PLAINTEXT=1)')
    .option('--context <name>', 'use this saved context (`outpost login`, `outpost context ls`) instead of the current one')
    .option('--json', 'print the answer as JSON, for scripts');
}

/**
 * Makes commander's own errors (missing argument, unknown option) one line in
 * the same `outpost: <message> (USAGE)` shape as every other error. Set on a
 * command before its sub-commands are added: they inherit it.
 */
export function oneLineErrors(command: Command): Command {
  return command.showHelpAfterError(false).configureOutput({
    outputError: (text, write) => write(`outpost: ${text.trim().replace(/^error: /, '')} (USAGE)\n`),
  });
}

/** An API URL as given on the command line, with http:// added when no scheme is given; trailing slashes dropped. */
export function normalizeApiUrl(raw: string): string {
  const withScheme = raw.includes('://') ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw usageError(`--api / OUTPOST_API must be a URL like ${DEFAULT_API_URL}, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`--api / OUTPOST_API must be an http(s) URL, got ${JSON.stringify(raw)}`);
  return withScheme.replace(/\/+$/, '');
}

/** Where `outpost up` keeps the admin token it generated (see cli/up.ts). */
export function upTokenFile(env: Env): string {
  return join(env.OUTPOST_DATA_DIR || '.outpost', 'admin-token');
}

/**
 * Flag, then OUTPOST_TOKEN_FILE, then OUTPOST_TOKEN; with none of them, the
 * token `outpost up` wrote to its data directory, so the quickstart needs no
 * export on the machine that runs the control plane.
 */
function token(flag: string | undefined, env: Env, context: CliContext | undefined, warnings: SecretFileWarning[]): string | undefined {
  const file = flag || env.OUTPOST_TOKEN_FILE;
  if (file) {
    try {
      return readSecretFile(file, warnings);
    } catch (err) {
      throw new CliError('TOKEN_FILE_UNREADABLE', `cannot read the token file ${file}: ${err instanceof Error ? err.message : String(err)}`, EXIT_BAD_INPUT, { cause: err });
    }
  }
  if (env.OUTPOST_TOKEN) return env.OUTPOST_TOKEN;
  // A context's API may be another machine: the local `outpost up` token is never sent there.
  if (context) return context.token;
  try {
    return readSecretFile(upTokenFile(env), warnings) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * DD-023: the token (and, for `device add` and `rotate-secret`, device
 * secrets) must not cross a network in clear. Refused before any connection
 * is opened, so nothing is sent.
 */
export function refusePlaintext(baseUrl: string, insecure: boolean): void {
  const url = new URL(baseUrl);
  if (url.protocol !== 'http:' || insecure || isLoopbackHost(url.hostname)) return;
  throw new CliError(
    'PLAINTEXT_REFUSED',
    `refusing http:// to ${url.hostname}, which is not this machine: the API token would cross the network unencrypted. ` +
      'Use https:// (with --ca if the API has a certificate from your own CA), or --insecure-plaintext if the link is encrypted otherwise',
  );
}

/** The token, with a warning on stderr when its file is open to group or others (DD-025). */
function bearerToken(flag: string | undefined, env: Env, context: CliContext | undefined): string | undefined {
  const warnings: SecretFileWarning[] = [];
  const value = token(flag, env, context, warnings);
  for (const w of warnings) process.stderr.write(`outpost: warning: ${w.file} (mode ${w.mode}): ${SECRET_FILE_WARNING}\n`);
  return value;
}

/** The CA to trust for the API's certificate; undefined: the system's CAs. */
export function caFile(flag: string | undefined, env: Env, context?: CliContext): Buffer | undefined {
  const file = flag || env.OUTPOST_CA;
  if (!file) return context?.ca === undefined ? undefined : Buffer.from(context.ca);
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CliError('CA_FILE_UNREADABLE', `cannot read the CA file ${file}: ${err instanceof Error ? err.message : String(err)}`, EXIT_BAD_INPUT, { cause: err });
  }
}

function timeoutMs(flag: string | undefined): number {
  if (flag === undefined) return DEFAULT_TIMEOUT_MS;
  const seconds = Number(flag);
  if (!Number.isFinite(seconds) || seconds <= 0) throw usageError(`--timeout must be a positive number of seconds, got ${JSON.stringify(flag)}`);
  return seconds * 1000;
}

/**
 * Where the API is, DD-044: `--api`, else `--context`, else OUTPOST_API, else
 * the current saved context, else the default URL. A context comes as a whole
 * (URL, token, CA): with an API URL from a flag or the environment no context
 * is read, so a saved token never goes to another API. The token and CA of a
 * flag or the environment still beat the context's.
 */
export function selectContext(flags: Pick<ApiFlags, 'api' | 'context'>, env: Env): { name: string; context: CliContext } | undefined {
  if (flags.api) {
    if (flags.context) throw usageError('--api and --context exclude each other');
    return undefined;
  }
  if (!flags.context && env.OUTPOST_API) return undefined;
  const path = cliConfigPath(env);
  const warnings: SecretFileWarning[] = [];
  let config;
  try {
    config = readCliConfig(path, warnings);
  } catch (err) {
    if (err instanceof CliConfigError) throw new CliError('CONFIG_INVALID', err.message, EXIT_BAD_INPUT, { cause: err });
    throw err;
  }
  for (const w of warnings) process.stderr.write(`outpost: warning: ${w.file} (mode ${w.mode}): ${SECRET_FILE_WARNING}\n`);
  const name = flags.context ?? config.current;
  if (name === undefined) return undefined;
  const context = config.contexts[name];
  if (context === undefined) throw new CliError('CONTEXT_NOT_FOUND', `no context "${name}" in ${path}: see \`outpost context ls\``);
  return { name, context };
}

export function buildContext(flags: ApiFlags, env: Env): CommandContext {
  const stdout = process.stdout;
  const interactive = process.stdin.isTTY === true;
  const selected = selectContext(flags, env)?.context;
  const baseUrl = normalizeApiUrl(flags.api || (selected ? selected.api : env.OUTPOST_API) || DEFAULT_API_URL);
  refusePlaintext(baseUrl, flags.insecurePlaintext === true || env.OUTPOST_INSECURE_PLAINTEXT === '1' || selected?.insecurePlaintext === true);
  const ca = caFile(flags.ca, env, selected);
  return {
    client: new ApiClient({ baseUrl, token: bearerToken(flags.tokenFile, env, selected), timeoutMs: timeoutMs(flags.timeout), ...(ca ? { fetch: fetchWithCa(ca) } : {}) }),
    json: flags.json === true,
    color: stdout.isTTY === true && !env.NO_COLOR && env.TERM !== 'dumb',
    now: () => new Date(),
    print: (text) => void stdout.write(`${text}\n`),
    printJson: (value) => void stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    warn: (text) => void process.stderr.write(`outpost: warning: ${text}\n`),
    interactive,
    async confirm(question) {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
      } finally {
        rl.close();
      }
    },
  };
}

/** The one line an error becomes on stderr, and the exit code. */
export function describeError(err: unknown, tokenGiven: boolean): { line: string; exitCode: number } {
  if (err instanceof ApiClientError) {
    const hint = err.code === 'UNAUTHORIZED' && !tokenGiven ? ' (no token given: set OUTPOST_TOKEN or --token-file; `outpost up` writes one to .outpost/admin-token)' : '';
    return { line: `${err.message}${hint} (${err.code})`, exitCode: EXIT_FAILURE };
  }
  if (err instanceof ReleaseFileError) return { line: `${err.message} (RELEASE_FILE_INVALID)`, exitCode: EXIT_BAD_INPUT };
  if (err instanceof CliError) return { line: `${err.message} (${err.code})`, exitCode: err.exitCode };
  return { line: `${err instanceof Error ? err.message : String(err)} (UNEXPECTED)`, exitCode: EXIT_FAILURE };
}

/**
 * Runs one command: builds the context from flags and environment, and turns
 * any failure into `outpost: <message> (<CODE>)` on stderr and a non-zero
 * exit code — never a stack trace.
 */
export async function run(flags: ApiFlags, body: (ctx: CommandContext) => Promise<void>): Promise<void> {
  const env = process.env;
  try {
    await body(buildContext(flags, env));
  } catch (err) {
    const tokenGiven = Boolean(flags.tokenFile || env.OUTPOST_TOKEN_FILE || env.OUTPOST_TOKEN || existsSync(upTokenFile(env)) || contextGiven(flags, env));
    const { line, exitCode } = describeError(err, tokenGiven);
    process.stderr.write(`outpost: ${line.replace(/\s*\n\s*/g, ' ')}\n`);
    process.exitCode = exitCode;
  }
}

function contextGiven(flags: ApiFlags, env: Env): boolean {
  try {
    return selectContext(flags, env) !== undefined;
  } catch {
    return false;
  }
}
