import { access, copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import { followDockerStream } from './docker-stream.js';
import { makeTempDir } from './temp-dir.js';

/** `sleep` as PID 1 would ignore SIGTERM and make every `docker stop` wait 10 s. */
export const DEFAULT_TEST_CMD: readonly string[] = [
  'sh',
  '-c',
  "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done",
];
/** Image label (and `/etc/outpost-test-variant`, `$OUTPOST_TEST_VARIANT`) telling test images apart. */
export const VARIANT_LABEL = 'io.outpost.test.variant';

export const TEST_IMAGE = 'outpost-test/busybox:1';
export const TEST_IMAGE_2 = 'outpost-test/busybox:2';

export interface TestImageOptions {
  /** Default command; `DEFAULT_TEST_CMD` when omitted. */
  readonly cmd?: readonly string[];
  /** Variant written to the label, file and env var; makes the image id distinct. Default '1'. */
  readonly label?: string;
  readonly docker?: Docker;
}

export const STANDARD_TEST_IMAGES: ReadonlyArray<{ readonly tag: string; readonly label: string }> = [
  { tag: TEST_IMAGE, label: '1' },
  { tag: TEST_IMAGE_2, label: '2' },
];

export interface RegistryAuth {
  readonly username: string;
  readonly password: string;
  readonly serveraddress?: string;
}

const BUSYBOX_CANDIDATES = ['/usr/bin/busybox', '/bin/busybox'];

async function findBusybox(): Promise<string> {
  for (const candidate of BUSYBOX_CANDIDATES) {
    try {
      await access(candidate);
      return candidate;
    } catch {
      // try the next one
    }
  }
  throw new Error('busybox not found; install busybox-static (scripts/bootstrap-debian.sh)');
}

function dockerfileFor(cmd: readonly string[], variant: string): string {
  return [
    'FROM scratch',
    'ENV PATH=/bin',
    'COPY busybox /bin/busybox',
    // Exec form: there is no /bin/sh until busybox has installed its applets.
    'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
    `RUN mkdir -p /tmp /etc /var/www && chmod 1777 /tmp && echo ${JSON.stringify(variant)} > /etc/outpost-test-variant`,
    `ENV OUTPOST_TEST_VARIANT=${JSON.stringify(variant)}`,
    `LABEL ${VARIANT_LABEL}=${JSON.stringify(variant)}`,
    `CMD ${JSON.stringify(cmd)}`,
    '',
  ].join('\n');
}

async function existingMatches(docker: Docker, tag: string, cmd: readonly string[], variant: string): Promise<string | undefined> {
  try {
    const info = await docker.getImage(tag).inspect();
    const sameCmd = JSON.stringify(info.Config.Cmd ?? []) === JSON.stringify(cmd);
    const sameVariant = info.Config.Labels?.[VARIANT_LABEL] === variant;
    return sameCmd && sameVariant ? info.Id : undefined;
  } catch (err: unknown) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw err;
  }
}

/** Builds a FROM-scratch busybox image under `tag` unless an identical one exists; returns its id. */
export async function ensureTestImage(tag: string, opts: TestImageOptions = {}): Promise<string> {
  const docker = opts.docker ?? new Docker();
  const cmd = opts.cmd ?? DEFAULT_TEST_CMD;
  const variant = opts.label ?? '1';
  if (!/^[A-Za-z0-9._-]+$/.test(variant)) throw new Error(`test image label must match [A-Za-z0-9._-]+: ${variant}`);
  const existing = await existingMatches(docker, tag, cmd, variant);
  if (existing !== undefined) return existing;

  const context = await makeTempDir('image');
  try {
    await copyFile(await findBusybox(), join(context.path, 'busybox'));
    await writeFile(join(context.path, 'Dockerfile'), dockerfileFor(cmd, variant));
    const stream = await docker.buildImage(
      { context: context.path, src: ['Dockerfile', 'busybox'] },
      { t: tag, rm: true, forcerm: true },
    );
    await followDockerStream(stream);
  } finally {
    await context.remove();
  }
  const info = await docker.getImage(tag).inspect();
  return info.Id;
}

export async function ensureStandardTestImages(docker: Docker = new Docker()): Promise<void> {
  for (const { tag, label } of STANDARD_TEST_IMAGES) {
    await ensureTestImage(tag, { label, docker });
  }
}

export interface PushOptions {
  readonly docker?: Docker;
  /**
   * Keep the local `host/repo:tag` and `host/repo@digest` references. By default they are
   * removed, so a later pull of `host/repo@digest` really goes to the registry.
   */
  readonly keepLocalReference?: boolean;
}

/**
 * Pushes `localTag` to `registryHost/repo:tag` and returns the manifest digest
 * (`sha256:...`), so tests can deploy `${registryHost}/${repo}@${digest}`.
 */
export async function pushToRegistry(
  localTag: string,
  registryHost: string,
  repo: string,
  tag: string,
  auth?: RegistryAuth,
  opts: PushOptions = {},
): Promise<string> {
  const docker = opts.docker ?? new Docker();
  const target = `${registryHost}/${repo}`;
  await docker.getImage(localTag).tag({ repo: target, tag });
  let digest: string | undefined;
  try {
    const stream = await docker.getImage(target).push({
      tag,
      authconfig: { serveraddress: registryHost, ...auth },
    });
    const events = await followDockerStream(stream);
    for (const event of events) {
      const candidate = event.aux?.['Digest'];
      if (typeof candidate === 'string') digest = candidate;
    }
    if (digest === undefined) {
      throw new Error(`push of ${target}:${tag} reported no digest: ${JSON.stringify(events.slice(-5))}`);
    }
    return digest;
  } finally {
    if (opts.keepLocalReference !== true) {
      const refs = [`${target}:${tag}`, ...(digest === undefined ? [] : [`${target}@${digest}`])];
      for (const ref of refs) await removeReference(docker, ref);
    }
  }
}

/** Untags `ref`; the image itself stays while other tags (e.g. TEST_IMAGE) point at it. */
async function removeReference(docker: Docker, ref: string): Promise<void> {
  try {
    await docker.getImage(ref).remove({ noprune: true });
  } catch (err: unknown) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err;
  }
}

/** Pulls `ref` (tag or `@sha256:` digest) and rejects on any registry error, e.g. 401. */
export async function pullImage(ref: string, auth?: RegistryAuth, docker: Docker = new Docker()): Promise<void> {
  const stream = await docker.pull(ref, auth === undefined ? {} : { authconfig: auth });
  await followDockerStream(stream);
}
