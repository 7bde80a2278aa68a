import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliEnv } from '../helpers/cli-run.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

/** The commands `outpost [group] --help` lists: the independent source the completions are checked against. */
function helpCommands(help: string): string[] {
  const section = help.split('\nCommands:\n')[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z][a-z0-9-]*)(?:\|([a-z][a-z0-9-]*))?/gm)].flatMap((m) => [m[1] ?? '', ...(m[2] ? [m[2]] : [])]).filter((n) => n !== 'help');
}

describe('outpost completion', () => {
  let dir: TempDir;
  const scripts: Record<string, string> = {};
  const commands: { path: string[]; names: string[] }[] = [];

  beforeAll(async () => {
    dir = await makeTempDir('completion');
    for (const shell of ['bash', 'zsh', 'fish']) {
      const r = await runCliEnv(['completion', shell], {});
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      scripts[shell] = r.stdout;
    }
    const top = helpCommands((await runCliEnv(['--help'], {})).stdout);
    commands.push({ path: [], names: top });
    for (const name of top) {
      const sub = helpCommands((await runCliEnv([name, '--help'], {})).stdout);
      if (sub.length > 0) commands.push({ path: [name], names: sub });
    }
  }, 120_000);
  afterAll(async () => {
    await dir?.remove();
  });

  it('finds the commands in the help (sanity of the reference)', () => {
    const top = commands[0]?.names ?? [];
    for (const name of ['agent', 'up', 'device', 'deploy', 'rollout', 'login', 'context', 'completion']) expect(top).toContain(name);
    expect(commands.find((c) => c.path[0] === 'device')?.names).toContain('add');
  });

  it.each(['bash', 'zsh', 'fish'])('%s: every command and sub-command appears', (shell) => {
    const script = scripts[shell] ?? '';
    for (const { path, names } of commands) {
      for (const name of names) expect(script, `${[...path, name].join(' ')} in ${shell}`).toMatch(new RegExp(`(?<![A-Za-z0-9-])${name}(?![A-Za-z0-9-])`));
    }
  });

  it('bash: the script is valid bash and completes commands, sub-commands and options', () => {
    const file = join(dir.path, 'outpost.bash');
    writeFileSync(file, scripts.bash ?? '');
    execFileSync('bash', ['-n', file]);
    const complete = (words: string[]): string[] =>
      execFileSync('bash', ['-c', `source "$0"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _outpost; printf '%s\\n' "\${COMPREPLY[@]}"`, file], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean);
    expect(complete(['outpost', 'rollo'])).toEqual(['rollout']);
    for (const { path, names } of commands) expect(complete(['outpost', ...path, '']).sort(), path.join(' ')).toEqual(expect.arrayContaining(names));
    // An alias (ls|list) leads to the same options; a value after --api is skipped.
    expect(complete(['outpost', 'device', 'list', '--api', 'http://x', '--sel'])).toEqual(['--selector']);
    expect(complete(['outpost', 'agent', '--log-f'])).toEqual(['--log-format']);
  });

  it('refuses an unknown shell with a usage error', async () => {
    const r = await runCliEnv(['completion', 'tcsh'], {});
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^outpost: the shell must be one of bash, zsh, fish.*\(USAGE\)\n$/);
  });
});
