import { chmod, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { createToken, listTokens, revokeToken } from '../client/access-client.js';
import { renderTokenList } from '../output/token-view.js';
import { oneLineErrors, run, usageError, withApiOptions, type ApiFlags } from './command-context.js';

interface CreateFlags extends ApiFlags {
  role?: string;
  out?: string;
}

const ROLES = ['viewer', 'operator', 'admin'];

/** `outpost token create|ls|rm`: API tokens with roles (admin only; DD-025). */
export function registerTokenCommands(program: Command): void {
  const token = oneLineErrors(program.command('token').description('API tokens with roles: viewer, operator, admin (needs an admin token)'));

  withApiOptions(
    token
      .command('create')
      .argument('<name>', 'who or what uses it, e.g. ci-deploy (unique among live tokens)')
      .description('create an API token and print it (shown only once), or write it to a file with --out'),
  )
    .option('--role <role>', 'viewer (read), operator (also deploy, rollouts, commands, labels, overrides, pins) or admin (everything)')
    .option('--out <file>', 'write the token to this file (mode 0600) instead of printing it')
    .action((name: string, flags: CreateFlags) =>
      run(flags, async (ctx) => {
        if (flags.role === undefined || !ROLES.includes(flags.role)) throw usageError(`--role must be one of ${ROLES.join(', ')}`);
        const answer = await createToken(ctx.client, { name, role: flags.role });
        if (flags.out) {
          // writeFile's mode applies to a new file only: an existing one is restricted before the token is in it.
          await chmod(flags.out, 0o600).catch(() => undefined);
          await writeFile(flags.out, `${answer.secret}\n`, { mode: 0o600 });
          if (ctx.json) return ctx.printJson({ token: answer.token, file: flags.out });
          ctx.print(`Created token ${answer.token.id} (${answer.token.name}, role ${answer.token.role}); it is in ${flags.out}`);
          return;
        }
        if (ctx.json) return ctx.printJson(answer);
        ctx.print(
          [
            `Created token ${answer.token.id} (${answer.token.name}, role ${answer.token.role})`,
            `Token: ${answer.secret}`,
            'The token is shown only once (only its hash is stored): keep it in a file (OUTPOST_TOKEN_FILE) or a secret store.',
          ].join('\n'),
        );
      }),
    );

  withApiOptions(token.command('ls').alias('list').description('list the API tokens: id, name, role, when created and last used (never the secrets)')).action(
    (flags: ApiFlags) =>
      run(flags, async (ctx) => {
        const tokens = await listTokens(ctx.client);
        if (ctx.json) return ctx.printJson({ tokens });
        ctx.print(renderTokenList(tokens, { now: ctx.now(), color: ctx.color }));
      }),
  );

  withApiOptions(token.command('rm').alias('revoke').argument('<id>', 'token id (see `outpost token ls`)').description('revoke an API token: refused from its next request on')).action(
    (id: string, flags: ApiFlags) =>
      run(flags, async (ctx) => {
        const revoked = await revokeToken(ctx.client, id);
        if (ctx.json) return ctx.printJson({ token: revoked });
        ctx.print(`Revoked token ${revoked.id} (${revoked.name}, role ${revoked.role})`);
      }),
  );
}
