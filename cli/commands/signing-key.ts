import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { getSigningKeys, rotateSigningKey, trustFileOf, type SigningKeysBody } from '../client/signing-client.js';
import { deliveryLine } from '../output/delivery-view.js';
import { oneLineErrors, run, withApiOptions, type ApiFlags } from './command-context.js';

interface ShowFlags extends ApiFlags {
  out?: string;
}

function describe(keys: SigningKeysBody): string {
  const lines = [`Active key: ${keys.active.keyId}`];
  if (keys.next) lines.push(`Rotating to: ${keys.next.keyId} (documents are signed by both until \`outpost signing-key finish\`)`);
  return lines.join('\n');
}

/** `outpost signing-key …`: the key devices verify desired documents with, and its rotation (DD-026). */
export function registerSigningKeyCommands(program: Command): void {
  const cmd = oneLineErrors(program.command('signing-key').description('the key desired documents are signed with: show it, rotate it'));

  withApiOptions(cmd.command('show').description('show the signing key(s); --out writes the trust file devices are enrolled with'))
    .option('--out <file>', 'write the public key(s) as PEM: the file an agent takes with --trust')
    .action((flags: ShowFlags) =>
      run(flags, async (ctx) => {
        const keys = await getSigningKeys(ctx.client);
        if (flags.out) await writeFile(flags.out, trustFileOf(keys), { mode: 0o644 });
        if (ctx.json) return ctx.printJson(keys);
        ctx.print(flags.out ? `${describe(keys)}\nTrust file written to ${flags.out}` : `${describe(keys)}\n\n${trustFileOf(keys).trim()}`);
      }),
    );

  withApiOptions(
    cmd
      .command('rotate')
      .description('start a key rotation: a new key is generated and announced to every device in documents signed by the current one'),
  ).action((flags: ApiFlags) =>
    run(flags, async (ctx) => {
      const answer = await rotateSigningKey(ctx.client, 'rotate');
      if (ctx.json) return ctx.printJson(answer);
      ctx.print(
        `${describe(answer.keys)}\nEvery device's document was re-signed by both keys; ${deliveryLine(answer.delivery, 0)}.\n` +
          'Once the devices have it (outpost status: nothing pending, devices online), run `outpost signing-key finish`.',
      );
    }),
  );

  withApiOptions(cmd.command('finish').description('finish a key rotation: documents are signed by the new key only')).action((flags: ApiFlags) =>
    run(flags, async (ctx) => {
      const answer = await rotateSigningKey(ctx.client, 'finish');
      if (ctx.json) return ctx.printJson(answer);
      ctx.print(
        `${describe(answer.keys)}\n${deliveryLine(answer.delivery, 0)}.\nA device that heard nothing during the rotation needs the new trust file: outpost signing-key show --out FILE.`,
      );
    }),
  );
}
