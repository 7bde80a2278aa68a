// First import: V8's lean flags must be set before the other modules' code runs (agent/lean-v8.ts).
import './standalone-lean.js';
import { Command } from 'commander';
import { AGENT_VERSION } from '../shared/version.js';
import { registerAgentCommand } from './main.js';

/**
 * The entry of the standalone agent (dist/outpost-agent/outpost-agent.js,
 * DD-043): one file with every dependency, run as
 * `node outpost-agent.js agent ...` on a device without npm.
 */
const program = new Command().name('outpost-agent.js').description('Outpost device agent').version(AGENT_VERSION).showHelpAfterError();
registerAgentCommand(program);
program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`outpost: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
