import { Option, type Command } from 'commander';
import { deleteRegistryCredential, listRegistryCredentials, putRegistryCredential } from '../client/registry-client.js';
import { renderRegistryChange, renderRegistryCredentials } from '../output/registry-view.js';
import { readSecretStream, secretOnCommandLine } from '../../shared/secret-input.js';
import { CliError, EXIT_BAD_INPUT, oneLineErrors, run, usageError, withApiOptions, type ApiFlags } from './command-context.js';

interface LoginFlags extends ApiFlags {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
}

/** The host as the API takes it: host[:port], no scheme or path (what `docker login` users often paste). */
function registryHost(raw: string): string {
  if (/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(raw)) return raw;
  const hint = raw.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  throw usageError(`the registry is host[:port] as written in image references (e.g. registry.example.com:5000, docker.io for Docker Hub), got ${JSON.stringify(raw)}${hint && hint !== raw ? `; did you mean ${hint}?` : ''}`);
}

/** `outpost registry-login|registry-logout|registry-credentials ls` (admin; DD-041). */
export function registerRegistryCommands(program: Command): void {
  withApiOptions(
    oneLineErrors(program.command('registry-login'))
      .argument('<host>', 'registry host[:port] as in image references (docker.io for Docker Hub)')
      .description('store (or rotate) the credentials of a private registry; devices pulling from it get them without a redeploy'),
  )
    .option('--username <user>', 'registry user name')
    .option('--password-stdin', 'read the password from stdin (e.g. `cat pw | outpost registry-login …`)')
    .addOption(new Option('--password <password>', 'refused: use --password-stdin').hideHelp())
    .action((host: string, flags: LoginFlags) =>
      run(flags, async (ctx) => {
        if (flags.password !== undefined) throw usageError(secretOnCommandLine('--password', '--password-stdin'));
        const registry = registryHost(host);
        if (!flags.username) throw usageError('--username is required');
        if (!flags.passwordStdin) throw usageError('give the password on stdin with --password-stdin (never on the command line)');
        let password: string;
        try {
          password = await readSecretStream(process.stdin);
        } catch (err) {
          throw new CliError('PASSWORD_UNREADABLE', `cannot read the password from stdin: ${err instanceof Error ? err.message : String(err)}`, EXIT_BAD_INPUT, { cause: err });
        }
        if (password.length === 0) throw new CliError('PASSWORD_EMPTY', 'no password on stdin (--password-stdin)', EXIT_BAD_INPUT);
        const change = await putRegistryCredential(ctx.client, registry, { username: flags.username, password });
        if (ctx.json) return ctx.printJson(change);
        ctx.print(renderRegistryChange('Stored', change));
      }),
    );

  withApiOptions(
    oneLineErrors(program.command('registry-logout')).argument('<host>', 'registry host[:port]').description('remove the credentials of a registry; devices pulling from it get documents without them'),
  ).action((host: string, flags: ApiFlags) =>
    run(flags, async (ctx) => {
      const change = await deleteRegistryCredential(ctx.client, registryHost(host));
      if (ctx.json) return ctx.printJson(change);
      ctx.print(renderRegistryChange('Removed', change));
    }),
  );

  const creds = oneLineErrors(program.command('registry-credentials').description('private-registry credentials (needs an admin token)'));
  withApiOptions(creds.command('ls').alias('list').description('list stored registry credentials: host, user, when updated (never passwords)')).action((flags: ApiFlags) =>
    run(flags, async (ctx) => {
      const list = await listRegistryCredentials(ctx.client);
      if (ctx.json) return ctx.printJson({ credentials: list });
      ctx.print(renderRegistryCredentials(list, { now: ctx.now(), color: ctx.color }));
    }),
  );
}
