import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { shortDigest } from '../output/format.js';
import { renderReleaseDetail, renderReleaseList } from '../output/release-view.js';
import { parseReleaseFile } from '../release-file.js';
import { releaseRefArg } from './args.js';
import { CliError, EXIT_BAD_INPUT, oneLineErrors, run, withApiOptions, type ApiFlags } from './command-context.js';

interface ListFlags extends ApiFlags {
  app?: string;
}

async function readSource(file: string): Promise<string> {
  try {
    if (file !== '-') return await readFile(file, 'utf8');
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Uint8Array));
    return Buffer.concat(chunks).toString('utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : err instanceof Error ? err.message : String(err);
    throw new CliError('RELEASE_FILE_UNREADABLE', `cannot read the release file ${file}: ${reason}`, EXIT_BAD_INPUT, { cause: err });
  }
}

/** `outpost release …`: immutable app@version bundles of workloads. */
export function registerReleaseCommands(program: Command): void {
  const release = oneLineErrors(program.command('release').description('create and inspect releases (immutable app@version)'));

  withApiOptions(
    release
      .command('create')
      .argument('<file>', 'YAML or JSON with app, version and workloads (or compose services); - reads stdin')
      .description('create a release from a compose-like file; the same content again is a no-op, different content a conflict'),
  ).action((file: string, flags: ApiFlags) =>
    run(flags, async (ctx) => {
      const input = parseReleaseFile(await readSource(file), file === '-' ? 'release file (stdin)' : file);
      const answer = await ctx.client.createRelease(input);
      if (ctx.json) return ctx.printJson(answer);
      const r = answer.release;
      const workloads = Object.keys(r.workloads).sort().join(', ');
      ctx.print(
        answer.created
          ? `Created release ${r.app}@${r.version} (workloads: ${workloads}; digest ${shortDigest(r.digest)})`
          : `Release ${r.app}@${r.version} already exists with this content; nothing changed`,
      );
    }),
  );

  withApiOptions(release.command('ls').alias('list').description('list releases'))
    .option('--app <app>', 'only this app')
    .action((flags: ListFlags) =>
      run(flags, async (ctx) => {
        const answer = await ctx.client.listReleases(flags.app);
        if (ctx.json) return ctx.printJson(answer);
        ctx.print(renderReleaseList(answer.releases, { now: ctx.now(), color: ctx.color }));
      }),
    );

  withApiOptions(release.command('show').argument('<release>', 'APP@VERSION').description('show a release and its workloads')).action(
    (ref: string, flags: ApiFlags) =>
      run(flags, async (ctx) => {
        const { app, version } = releaseRefArg(ref);
        const answer = await ctx.client.getRelease(app, version);
        if (ctx.json) return ctx.printJson(answer);
        ctx.print(renderReleaseDetail(answer.release, { now: ctx.now(), color: ctx.color }));
      }),
  );
}
