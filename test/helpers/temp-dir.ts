import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempDir {
  readonly path: string;
  /** Deletes the directory and everything in it. Idempotent. */
  remove(): Promise<void>;
}

export async function makeTempDir(prefix: string): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), `outpost-${prefix}-`));
  let removing: Promise<void> | undefined;
  return {
    path,
    remove() {
      removing ??= rm(path, { recursive: true, force: true });
      return removing;
    },
  };
}
