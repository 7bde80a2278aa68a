import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { readSecretFile, SECRET_FILE_WARNING, type SecretFileWarning } from '../../shared/secret-input.js';
import { ApiClient } from '../client/api-client.js';
import { fetchWithCa } from '../client/fetch-with-ca.js';
import { CliConfigError, cliConfigPath, ContextName, readCliConfig, writeCliConfig, type CliConfig, type CliContext } from '../config/cli-config.js';
import { renderTable } from '../output/table.js';
import { CliError, describeError, EXIT_BAD_INPUT, normalizeApiUrl, oneLineErrors, refusePlaintext, usageError } from './command-context.js';

interface LoginFlags {
  tokenFile?: string;
  name?: string;
  ca?: string;
  insecurePlaintext?: boolean;
  verify: boolean;
  json?: boolean;
}

interface LocalFlags {
  json?: boolean;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Commands that only touch the CLI's configuration file: the same one-line errors as the API commands. */
async function local(body: () => Promise<void> | void): Promise<void> {
  try {
    await body();
  } catch (err) {
    const error = err instanceof CliConfigError ? new CliError('CONFIG_INVALID', err.message, EXIT_BAD_INPUT, { cause: err }) : err;
    const { line, exitCode } = describeError(error, true);
    process.stderr.write(`outpost: ${line.replace(/\s*\n\s*/g, ' ')}\n`);
    process.exitCode = exitCode;
  }
}

function load(env: Env): { path: string; config: CliConfig } {
  const path = cliConfigPath(env);
  const warnings: SecretFileWarning[] = [];
  const config = readCliConfig(path, warnings);
  for (const w of warnings) process.stderr.write(`outpost: warning: ${w.file} (mode ${w.mode}): ${SECRET_FILE_WARNING}\n`);
  return { path, config };
}

/** A context name from the API's host: `api.example.com:8443` → `api.example.com-8443`. */
export function contextNameFor(apiUrl: string): string {
  const url = new URL(apiUrl);
  const name = `${url.hostname}${url.port ? `-${url.port}` : ''}`.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 63);
  return name || 'default';
}

function loginToken(flags: LoginFlags, env: Env): string {
  const file = flags.tokenFile || env.OUTPOST_TOKEN_FILE;
  if (file) {
    const warnings: SecretFileWarning[] = [];
    let value: string;
    try {
      value = readSecretFile(file, warnings);
    } catch (err) {
      throw new CliError('TOKEN_FILE_UNREADABLE', `cannot read the token file ${file}: ${err instanceof Error ? err.message : String(err)}`, EXIT_BAD_INPUT, { cause: err });
    }
    for (const w of warnings) process.stderr.write(`outpost: warning: ${w.file} (mode ${w.mode}): ${SECRET_FILE_WARNING}\n`);
    if (!value) throw new CliError('TOKEN_FILE_EMPTY', `the token file ${file} is empty`, EXIT_BAD_INPUT);
    return value;
  }
  if (env.OUTPOST_TOKEN) return env.OUTPOST_TOKEN;
  throw usageError('outpost login needs a token: --token-file FILE (or OUTPOST_TOKEN_FILE / OUTPOST_TOKEN)');
}

function readCa(file: string | undefined): string | undefined {
  if (!file) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError('CA_FILE_UNREADABLE', `cannot read the CA file ${file}: ${err instanceof Error ? err.message : String(err)}`, EXIT_BAD_INPUT, { cause: err });
  }
}

/** `outpost login` and `outpost context ls|use|rm|current` (DD-044). */
export function registerContextCommands(program: Command): void {
  oneLineErrors(program.command('login'))
    .description('save an API URL and token as a named context and make it current; later commands use it when no --api / OUTPOST_API is given')
    .argument('<url>', 'the Outpost API, e.g. https://outpost.example.com:8443')
    .option('--token-file <file>', 'file holding the API token (env OUTPOST_TOKEN_FILE, or the token in OUTPOST_TOKEN); the token is copied into the 0600 configuration file')
    .option('--name <name>', 'context name (default: the API host, e.g. outpost.example.com-8443)')
    .option('--ca <file>', "PEM CA that signed the API's certificate (kept in the context)")
    .option('--insecure-plaintext', 'allow http:// to an API on another machine, for this context')
    .option('--no-verify', 'save without checking the token against the API')
    .option('--json', 'print the saved context (without its token) as JSON')
    .action((url: string, flags: LoginFlags) =>
      local(async () => {
        const env = process.env;
        let api: string;
        try {
          api = normalizeApiUrl(url);
        } catch {
          throw usageError(`the URL must be an http(s) URL like https://outpost.example.com:8443, got ${JSON.stringify(url)}`);
        }
        refusePlaintext(api, flags.insecurePlaintext === true);
        const name = flags.name ?? contextNameFor(api);
        const checkedName = ContextName.safeParse(name);
        if (!checkedName.success) throw usageError(`--name: ${checkedName.error.issues[0]?.message ?? 'invalid'}`);
        const token = loginToken(flags, env);
        const ca = readCa(flags.ca);
        if (flags.verify) {
          // Nothing is saved unless the API accepts the token (any role can read the fleet summary).
          await new ApiClient({ baseUrl: api, token, ...(ca ? { fetch: fetchWithCa(Buffer.from(ca)) } : {}) }).fleet();
        }
        const { path, config } = load(env);
        const context: CliContext = { api, token, ...(ca ? { ca } : {}), ...(flags.insecurePlaintext ? { insecurePlaintext: true } : {}) };
        writeCliConfig(path, { current: name, contexts: { ...config.contexts, [name]: context } });
        if (flags.json) return void process.stdout.write(`${JSON.stringify({ name, api, ca: ca !== undefined, current: true, file: path }, null, 2)}\n`);
        process.stdout.write(`Logged in to ${api} as context "${name}" (now current; saved in ${path})\n`);
      }),
    );

  const context = oneLineErrors(program.command('context').description('saved API contexts (from `outpost login`): list, switch, remove'));

  context
    .command('ls')
    .alias('list')
    .description('list the saved contexts; * marks the current one')
    .option('--json', 'print them as JSON (tokens left out)')
    .action((flags: LocalFlags) =>
      local(() => {
        const { config } = load(process.env);
        const rows = Object.entries(config.contexts)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([name, c]) => ({ name, api: c.api, ca: c.ca !== undefined, current: name === config.current }));
        if (flags.json) return void process.stdout.write(`${JSON.stringify({ current: config.current ?? null, contexts: rows }, null, 2)}\n`);
        if (rows.length === 0) return void process.stderr.write('(no contexts saved: `outpost login URL --token-file FILE` adds one)\n');
        process.stdout.write(`${renderTable(['CURRENT', 'NAME', 'API', 'CA'], rows.map((r) => [r.current ? '*' : '', r.name, r.api, r.ca ? 'yes' : '-']))}\n`);
      }),
    );

  context
    .command('use')
    .argument('<name>', 'a saved context')
    .description('make a saved context the current one')
    .action((name: string) =>
      local(() => {
        const { path, config } = load(process.env);
        if (!(name in config.contexts)) throw new CliError('CONTEXT_NOT_FOUND', `no context "${name}" in ${path}: see \`outpost context ls\``);
        writeCliConfig(path, { ...config, current: name });
        process.stdout.write(`Current context: ${name} (${config.contexts[name]?.api ?? ''})\n`);
      }),
    );

  context
    .command('rm')
    .alias('remove')
    .argument('<name>', 'a saved context')
    .description('remove a saved context and its token; removing the current one leaves none current')
    .action((name: string) =>
      local(() => {
        const { path, config } = load(process.env);
        if (!(name in config.contexts)) throw new CliError('CONTEXT_NOT_FOUND', `no context "${name}" in ${path}: see \`outpost context ls\``);
        const contexts = Object.fromEntries(Object.entries(config.contexts).filter(([n]) => n !== name));
        const wasCurrent = config.current === name;
        writeCliConfig(path, { contexts, ...(wasCurrent || config.current === undefined ? {} : { current: config.current }) });
        process.stdout.write(`Removed context ${name}${wasCurrent ? '; no context is current now' : ''}\n`);
      }),
    );

  context
    .command('current')
    .description('print the name of the current context')
    .action(() =>
      local(() => {
        const { config } = load(process.env);
        if (config.current === undefined) throw new CliError('NO_CURRENT_CONTEXT', 'no context is current: `outpost login` or `outpost context use NAME`');
        process.stdout.write(`${config.current}\n`);
      }),
    );
}
