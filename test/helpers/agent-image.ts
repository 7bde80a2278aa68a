import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { CLI } from './agent-process.js';
import { followDockerStream } from './docker-stream.js';
import { withHostLock } from './host-lock.js';

const run = promisify(execFile);
const REPO_ROOT = dirname(dirname(dirname(CLI)));
/** What compose/Dockerfile copies from the build context (its COPY lines without --from), read from it so the two never drift. */
async function dockerfileInputs(): Promise<string[]> {
  const dockerfile = await readFile(join(REPO_ROOT, 'compose', 'Dockerfile'), 'utf8');
  const sources = dockerfile
    .split('\n')
    .map((line) => /^COPY\s+(?!--from)(.+)$/.exec(line.trim())?.[1]?.split(/\s+/).slice(0, -1) ?? [])
    .flat();
  return ['compose/Dockerfile', ...new Set(sources)];
}
export const LOCAL_BASE_IMAGE = 'outpost-base/node:local';
const IMAGE_REPO = 'outpost-test/outpost';
/** Label carrying the content hash an image was built from. */
const SOURCE_HASH_LABEL = 'io.outpost.test.source-hash';

async function filesUnder(path: string): Promise<string[]> {
  const entries = await readdir(join(REPO_ROOT, path), { withFileTypes: true }).catch(() => undefined);
  if (!entries) return [path];
  const nested = await Promise.all(entries.map((e) => filesUnder(join(path, e.name))));
  return nested.flat();
}

/** What the local base is assembled from: the script and this host's node (its size and mtime: a new node is a new base). */
async function localBaseFingerprint(script: string): Promise<string> {
  const node = await stat(await realpath(process.execPath));
  return createHash('sha256')
    .update(await readFile(script))
    .update(`\0${process.version}\0${node.size}\0${node.mtimeMs}`)
    .digest('hex')
    .slice(0, 12);
}

/**
 * compose/build-local-base.sh: the node base image assembled from this host's node (no registry needed).
 * The script sends node and npm to the engine (~10 s); a tag with the fingerprint of its inputs skips it
 * when they did not change.
 */
export async function ensureLocalBase(docker: Docker = new Docker()): Promise<string> {
  const script = join(REPO_ROOT, 'compose', 'build-local-base.sh');
  const [repo = '', tag = ''] = LOCAL_BASE_IMAGE.split(':');
  const pinnedTag = `${tag}-${await localBaseFingerprint(script)}`;
  try {
    const pinned = docker.getImage(`${repo}:${pinnedTag}`);
    const { Id } = await pinned.inspect();
    await pinned.tag({ repo, tag });
    return Id;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err;
  }
  await run('bash', [script, LOCAL_BASE_IMAGE], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 });
  const base = docker.getImage(LOCAL_BASE_IMAGE);
  await base.tag({ repo, tag: pinnedTag });
  return (await base.inspect()).Id;
}

/**
 * The image of compose/Dockerfile, built from the local base (its build stage
 * runs `npm ci`, so the first build needs the npm registry). Tagged with a
 * hash of the Dockerfile's inputs and the base image: rebuilt only when one of
 * them changed. One build at a time on this host (host-lock.ts).
 */
export async function ensureOutpostImage(docker: Docker = new Docker()): Promise<string> {
  // Test files in parallel forks need it at the same time: one builds, the others then find it built.
  return withHostLock('outpost-image', async () => {
    const baseId = await ensureLocalBase(docker);
    const files = (await Promise.all((await dockerfileInputs()).map(filesUnder))).flat().sort();
    const hash = createHash('sha256').update(baseId);
    for (const file of files) hash.update(`\0${file}\0`).update(await readFile(join(REPO_ROOT, file)));
    const digest = hash.digest('hex').slice(0, 16);
    const tag = `${IMAGE_REPO}:${digest}`;
    try {
      const info = await docker.getImage(tag).inspect();
      if (info.Config.Labels?.[SOURCE_HASH_LABEL] === digest) return tag;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
    const stream = await docker.buildImage(
      { context: REPO_ROOT, src: files.map((f) => relative('.', f)) },
      { t: tag, dockerfile: 'compose/Dockerfile', buildargs: { BASE_IMAGE: LOCAL_BASE_IMAGE }, labels: { [SOURCE_HASH_LABEL]: digest }, rm: true, forcerm: true },
    );
    await followDockerStream(stream);
    return tag;
  });
}
