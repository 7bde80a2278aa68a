import type { Command } from 'commander';
import { commandTree } from '../completion/command-tree.js';
import { renderCompletion, SHELLS, type Shell } from '../completion/render-completion.js';

/**
 * `outpost completion bash|zsh|fish`: the script is rendered from the program
 * it is part of, so it lists exactly the commands and options the CLI has.
 * cli/main.ts registers every part of the CLI before this runs.
 */
export function registerCompletionCommand(program: Command): void {
  program
    .command('completion')
    .argument('<shell>', SHELLS.join('|'))
    .description('print a shell completion script: source <(outpost completion bash)')
    .action((shell: string) => {
      if (!(SHELLS as readonly string[]).includes(shell)) {
        process.stderr.write(`outpost: the shell must be one of ${SHELLS.join(', ')}, got ${JSON.stringify(shell)} (USAGE)\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(renderCompletion(shell as Shell, commandTree(program)));
    });
}
