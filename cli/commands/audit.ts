import type { Command } from 'commander';
import { listAudit } from '../client/access-client.js';
import { renderAudit } from '../output/audit-view.js';
import { integerArg } from './args.js';
import { oneLineErrors, run, withApiOptions, type ApiFlags } from './command-context.js';

interface AuditFlags extends ApiFlags {
  limit?: string;
  before?: string;
}

/** `outpost audit`: who changed what through the API (admin only; DD-025). */
export function registerAuditCommand(program: Command): void {
  withApiOptions(
    oneLineErrors(program.command('audit')).description('the audit log: every change made through the API, who made it, its outcome and request id, newest first'),
  )
    .option('--limit <n>', 'how many entries, 1-1000 (default 100)')
    .option('--before <seq>', 'only entries older than this seq (to page back)')
    .action((flags: AuditFlags) =>
      run(flags, async (ctx) => {
        const page = await listAudit(ctx.client, {
          ...(flags.limit !== undefined ? { limit: integerArg(flags.limit, '--limit') } : {}),
          ...(flags.before !== undefined ? { before: integerArg(flags.before, '--before') } : {}),
        });
        if (ctx.json) return ctx.printJson(page);
        ctx.print(renderAudit(page.entries, page.nextBefore, { now: ctx.now(), color: ctx.color }));
      }),
    );
}
