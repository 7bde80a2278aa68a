import { execFile } from 'node:child_process';
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * What a clean clone of the working tree would hold once committed: every
 * tracked file and every untracked file git does not ignore (so a run before
 * `git commit` tests the same thing CI will), with no node_modules, dist or
 * .outpost. The copy is a fresh git repository with one commit, so a test can
 * ask `git status` afterwards whether anything rewrote or left a file behind.
 */
export async function cleanCopyOfWorkingTree(repoRoot: string, dest: string): Promise<void> {
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: repoRoot,
    maxBuffer: 64 * 1024 * 1024,
  });
  const files = stdout.split('\0').filter((f) => f !== '');
  for (const file of files) {
    const target = join(dest, file);
    await mkdir(dirname(target), { recursive: true });
    try {
      await copyFile(join(repoRoot, file), target);
    } catch (err) {
      // A tracked file deleted in the working tree is not part of the next commit either.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  const git = (...args: string[]) => run('git', ['-c', 'user.name=outpost-test', '-c', 'user.email=test@outpost.invalid', ...args], { cwd: dest });
  await git('init', '-q');
  await git('add', '-A');
  await git('commit', '-q', '-m', 'clean copy');
}

/** `git status --porcelain` of a directory: '' when nothing was changed or left untracked. */
export async function gitStatus(dir: string): Promise<string> {
  return (await run('git', ['status', '--porcelain'], { cwd: dir })).stdout;
}
