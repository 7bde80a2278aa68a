import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { OutpostError } from '../../shared/errors.js';
import type { InstallPlan, PlannedFile } from './install-plan.js';

export type WriteStatus = 'created' | 'updated' | 'unchanged';

export interface WrittenFile {
  readonly file: PlannedFile;
  readonly status: WriteStatus;
}

async function current(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Writes the plan's files (atomically, each with its mode), leaving identical
 * ones alone. A secret file holding another secret is replaced only with
 * `force`; that refusal comes before anything is written.
 */
export async function writeInstall(plan: InstallPlan, opts: { force: boolean }): Promise<WrittenFile[]> {
  const before = await Promise.all(plan.files.map(async (file) => ({ file, existing: await current(file.path) })));
  for (const { file, existing } of before) {
    if (file.kind === 'secret' && existing !== undefined && existing.trim() !== file.content.trim() && !opts.force) {
      throw new OutpostError(
        'CONFIG_INVALID',
        `${file.path} holds a different device secret; nothing was written. Pass --force to replace it (the broker must know the new secret: outpost device rotate-secret)`,
      );
    }
  }
  const written: WrittenFile[] = [];
  for (const { file, existing } of before) {
    await mkdir(dirname(file.path), { recursive: true, mode: 0o755 });
    if (existing !== file.content) {
      const temp = `${file.path}.${process.pid}.tmp`;
      await writeFile(temp, file.content, { mode: file.mode });
      await chmod(temp, file.mode);
      await rename(temp, file.path);
    } else {
      await chmod(file.path, file.mode);
    }
    written.push({ file, status: existing === undefined ? 'created' : existing === file.content ? 'unchanged' : 'updated' });
  }
  await mkdir(dirname(plan.stateDir), { recursive: true, mode: 0o755 });
  await mkdir(plan.stateDir, { recursive: true, mode: 0o700 });
  return written;
}
