import type { Command } from 'commander';

/** What shell completion needs of one command: read from commander, so completions never drift from the CLI. */
export interface CommandNode {
  name: string;
  aliases: readonly string[];
  description: string;
  /** Long (and short) option flags, e.g. `--api`, `-h`. */
  options: readonly { flags: readonly string[]; description: string; takesValue: boolean }[];
  children: readonly CommandNode[];
}

interface HiddenAware {
  _hidden?: boolean;
}

export function commandTree(command: Command): CommandNode {
  return {
    name: command.name(),
    aliases: command.aliases(),
    description: command.description(),
    options: [
      ...command.options
        .filter((o) => !o.hidden)
        .map((o) => ({
          flags: [o.long, o.short].filter((f): f is string => typeof f === 'string'),
          description: o.description,
          takesValue: o.required || o.optional,
        })),
      { flags: ['--help', '-h'], description: 'display help for command', takesValue: false },
    ],
    // commander keeps "hidden" on a private field; such commands stay out of completion as out of help.
    children: command.commands.filter((c) => (c as unknown as HiddenAware)._hidden !== true && c.name() !== 'help').map(commandTree),
  };
}

/** Every command path, e.g. [], ['device'], ['device', 'add'], with its node. */
export function commandPaths(root: CommandNode): { path: readonly string[]; node: CommandNode }[] {
  const out: { path: readonly string[]; node: CommandNode }[] = [];
  const walk = (node: CommandNode, path: readonly string[]): void => {
    out.push({ path, node });
    for (const child of node.children) walk(child, [...path, child.name]);
  };
  walk(root, []);
  return out;
}
