import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CLI } from '../helpers/agent-process.js';

const run = promisify(execFile);
/** Written by `npm run build` (scripts/bundle-agent.ts); `npm test` builds before vitest runs. */
const BUNDLE = join(CLI, '..', '..', 'agent', 'main.bundle.js');

/** Issue 11: what `outpost agent` loads before it has work to do. */
describe('the agent bundle', () => {
  it('holds the agent command, and loads neither cron-parser nor a second commander', async () => {
    expect(existsSync(BUNDLE)).toBe(true);
    const script = `
      import { createRequire } from 'node:module';
      const agent = await import(${JSON.stringify(BUNDLE)});
      const loaded = Object.keys(createRequire(import.meta.url).cache);
      process.stdout.write(JSON.stringify({
        exports: Object.keys(agent).sort(),
        windows: loaded.filter((p) => /node_modules\\/(cron-parser|luxon)\\//.test(p)),
        commanderCopies: new Set(loaded.filter((p) => p.includes('/commander/')).map((p) => p.split('/commander/')[0])).size,
      }));
    `;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: join(CLI, '..', '..', '..') });
    expect(JSON.parse(stdout)).toEqual({ exports: ['agentConfigFromFlags', 'registerAgentCommand'], windows: [], commanderCopies: 1 });
  });
});
