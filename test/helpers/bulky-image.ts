import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import { followDockerStream } from './docker-stream.js';
import { TEST_IMAGE, ensureTestImage } from './images.js';
import { makeTempDir } from './temp-dir.js';

/**
 * The test image plus one layer of `sizeMiB` random bytes (incompressible: the
 * download is as big as the layer), tagged `tag` in the host's engine. For
 * pulls that must need space (issue 13, F11: disk full during a pull).
 */
export async function buildBulkyImage(tag: string, sizeMiB: number, docker: Docker = new Docker()): Promise<string> {
  await ensureTestImage(TEST_IMAGE, { docker });
  const context = await makeTempDir('bulky');
  try {
    await writeFile(join(context.path, 'bulk'), randomBytes(sizeMiB * 2 ** 20));
    await writeFile(join(context.path, 'Dockerfile'), `FROM ${TEST_IMAGE}\nCOPY bulk /bulk\n`);
    await followDockerStream(await docker.buildImage({ context: context.path, src: ['Dockerfile', 'bulk'] }, { t: tag, rm: true, forcerm: true }));
  } finally {
    await context.remove();
  }
  return (await docker.getImage(tag).inspect()).Id;
}
