import type Docker from 'dockerode';
import { OutpostError, errorMessage } from '../../shared/errors.js';
import { parseImageRef } from '../../shared/image-ref.js';
import {
  DEVICE_LABEL,
  IMAGE_LABEL,
  MANAGED_LABEL,
  SPEC_HASH_LABEL,
  WORKLOAD_LABEL,
  type ContainerCreateRequest,
  type ContainerDetail,
  type ContainerRunState,
  type ContainerRuntime,
  type ObservedContainer,
  type ObservedImage,
  type PullOptions,
} from './runtime.js';
import { loadDockerode } from './dockerode-lean.js';

interface DockerHttpError {
  statusCode?: number;
  json?: { message?: string };
  message?: string;
}

function statusOf(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null ? (err as DockerHttpError).statusCode : undefined;
}

/** Docker error text, preferring the engine's own message over dockerode's wrapper. */
function dockerMessage(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const e = err as DockerHttpError;
    if (e.json?.message) return e.json.message;
  }
  return errorMessage(err);
}

/** Classify a pull failure so reports say what to fix: the reference, the credentials, the device's disk, or the link. */
export function classifyPullError(message: string): 'IMAGE_NOT_FOUND' | 'REGISTRY_AUTH' | 'IMAGE_STORAGE_FULL' | 'IMAGE_PULL_FAILED' {
  const m = message.toLowerCase();
  // ENOSPC from the engine's download (`write …/tmp/GetImageBlob…`) or layer extraction: space, not the link, is the cure.
  if (/no space left on device/.test(m)) return 'IMAGE_STORAGE_FULL';
  if (/unauthorized|authentication required|no basic auth credentials|denied/.test(m)) return 'REGISTRY_AUTH';
  if (/manifest unknown|not found|does not exist|no such image|manifest for .* not found/.test(m)) return 'IMAGE_NOT_FOUND';
  return 'IMAGE_PULL_FAILED';
}

/** The dockerode adapter of the ContainerRuntime port. Callback/stream APIs are adapted here, once. */
export class DockerRuntime implements ContainerRuntime {
  private readonly docker: Docker;

  constructor(options: { socketPath?: string; docker?: Docker } = {}) {
    if (options.docker) {
      this.docker = options.docker;
    } else {
      const DockerClient = loadDockerode();
      this.docker = new DockerClient(options.socketPath ? { socketPath: options.socketPath } : undefined);
    }
  }

  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (err) {
      throw new OutpostError('RUNTIME_UNAVAILABLE', `docker engine not reachable: ${dockerMessage(err)}`, { cause: err });
    }
  }

  async listContainers(deviceId: string): Promise<ObservedContainer[]> {
    let summaries: Docker.ContainerInfo[];
    try {
      summaries = await this.docker.listContainers({
        all: true,
        filters: { label: [`${MANAGED_LABEL}=true`, `${DEVICE_LABEL}=${deviceId}`] },
      });
    } catch (err) {
      throw new OutpostError('RUNTIME_UNAVAILABLE', `cannot list containers: ${dockerMessage(err)}`, { cause: err });
    }
    const out: ObservedContainer[] = [];
    for (const s of summaries) {
      let info: Docker.ContainerInspectInfo;
      try {
        info = await this.docker.getContainer(s.Id).inspect();
      } catch (err) {
        if (statusOf(err) === 404) continue; // removed between list and inspect
        throw new OutpostError('RUNTIME_UNAVAILABLE', `cannot inspect ${s.Id}: ${dockerMessage(err)}`, { cause: err });
      }
      const labels = info.Config.Labels ?? {};
      const state = info.State;
      out.push({
        id: info.Id,
        name: info.Name.replace(/^\//, ''),
        workload: labels[WORKLOAD_LABEL] ?? '',
        specHash: labels[SPEC_HASH_LABEL] ?? '',
        image: labels[IMAGE_LABEL] ?? info.Config.Image,
        imageId: info.Image,
        state: (state.Status as ContainerRunState) ?? 'dead',
        exitCode: state.Running || state.Status === 'created' ? null : state.ExitCode,
        restartCount: info.RestartCount ?? 0,
        startedAt: state.StartedAt && !state.StartedAt.startsWith('0001-') ? state.StartedAt : null,
        createdAt: info.Created,
      });
    }
    return out;
  }

  async inspectImage(ref: string): Promise<ObservedImage | null> {
    try {
      const info = await this.docker.getImage(ref).inspect();
      return { id: info.Id, repoDigests: info.RepoDigests ?? [] };
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw new OutpostError('RUNTIME_UNAVAILABLE', `cannot inspect image ${ref}: ${dockerMessage(err)}`, { cause: err });
    }
  }

  async pullImage(ref: string, options: PullOptions = {}): Promise<void> {
    const parsed = parseImageRef(ref);
    if (!parsed) throw new OutpostError('IMAGE_PULL_FAILED', `not an image reference: ${ref}`);
    // A digest pins the content, so it wins over a tag; never leave `tag` empty (that pulls every tag).
    const tag = parsed.digest ?? parsed.tag ?? 'latest';
    let stream: NodeJS.ReadableStream;
    try {
      stream = (await this.docker.createImage(
        options.auth ? { ...options.auth } : {},
        { fromImage: parsed.repository, tag },
      )) as NodeJS.ReadableStream;
    } catch (err) {
      const msg = dockerMessage(err);
      throw new OutpostError(classifyPullError(msg), `pull ${ref} failed: ${msg}`, { cause: err });
    }
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
        reject(new OutpostError('RECONCILE_ABORTED', `pull ${ref} aborted`));
      };
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.docker.modem.followProgress(
        stream,
        (err: Error | null, output: { error?: string; errorDetail?: { message?: string } }[]) => {
          options.signal?.removeEventListener('abort', onAbort);
          const streamError = err ? dockerMessage(err) : output?.find((o) => o.error)?.error;
          if (streamError) {
            reject(new OutpostError(classifyPullError(streamError), `pull ${ref} failed: ${streamError}`, { cause: err }));
          } else {
            resolve();
          }
        },
        (event: { status?: string; id?: string; progressDetail?: { current?: number; total?: number } }) => {
          if (!options.onProgress || !event.status) return;
          options.onProgress({
            status: event.status,
            ...(event.id ? { layer: event.id } : {}),
            ...(event.progressDetail?.current !== undefined ? { current: event.progressDetail.current } : {}),
            ...(event.progressDetail?.total !== undefined ? { total: event.progressDetail.total } : {}),
          });
        },
      );
    });
  }

  async createContainer(request: ContainerCreateRequest): Promise<string> {
    try {
      const c = await this.docker.createContainer({ name: request.name, ...request.options });
      return c.id;
    } catch (err) {
      if (statusOf(err) === 409) {
        // Same deterministic name: a previous attempt created it before we crashed.
        const info = await this.docker.getContainer(request.name).inspect();
        return info.Id;
      }
      throw new OutpostError('CONTAINER_CREATE_FAILED', `create ${request.name} failed: ${dockerMessage(err)}`, {
        cause: err,
      });
    }
  }

  async startContainer(idOrName: string): Promise<void> {
    try {
      await this.docker.getContainer(idOrName).start();
    } catch (err) {
      if (statusOf(err) === 304) return;
      throw new OutpostError('CONTAINER_START_FAILED', `start ${idOrName} failed: ${dockerMessage(err)}`, { cause: err });
    }
  }

  async stopContainer(idOrName: string, timeoutSeconds: number): Promise<void> {
    try {
      await this.docker.getContainer(idOrName).stop({ t: timeoutSeconds });
    } catch (err) {
      const status = statusOf(err);
      if (status === 304 || status === 404) return;
      throw new OutpostError('CONTAINER_STOP_FAILED', `stop ${idOrName} failed: ${dockerMessage(err)}`, { cause: err });
    }
  }

  async removeContainer(idOrName: string): Promise<void> {
    try {
      await this.docker.getContainer(idOrName).remove({ force: true, v: false });
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) return;
      if (status === 409 && /already in progress/.test(dockerMessage(err))) return;
      throw new OutpostError('CONTAINER_REMOVE_FAILED', `remove ${idOrName} failed: ${dockerMessage(err)}`, {
        cause: err,
      });
    }
  }

  async inspectContainer(idOrName: string): Promise<ContainerDetail | null> {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.docker.getContainer(idOrName).inspect();
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw new OutpostError('RUNTIME_UNAVAILABLE', `cannot inspect ${idOrName}: ${dockerMessage(err)}`, { cause: err });
    }
    const health = (info.State as { Health?: { Status?: string; Log?: { Output?: string }[] } }).Health;
    const networks = Object.values(info.NetworkSettings?.Networks ?? {});
    const address = networks.map((n) => n.IPAddress).find((ip) => !!ip) ?? null;
    const ports = (info.HostConfig?.PortBindings ?? {}) as Record<string, { HostPort?: string }[] | null>;
    return {
      id: info.Id,
      running: info.State.Running,
      restarting: info.State.Restarting,
      exitCode: info.State.Running ? null : info.State.ExitCode,
      restartCount: info.RestartCount ?? 0,
      startedAt: info.State.StartedAt && !info.State.StartedAt.startsWith('0001-') ? info.State.StartedAt : null,
      health: {
        status: (health?.Status as ContainerDetail['health']['status'] | undefined) ?? 'none',
        lastOutput: health?.Log?.at(-1)?.Output?.trim() ?? null,
      },
      address: address || null,
      hostPorts: Object.entries(ports).flatMap(([key, bindings]) =>
        (bindings ?? []).map((b) => `${b.HostPort ?? ''}/${key.split('/')[1] ?? 'tcp'}`),
      ),
    };
  }

  async containerLogs(idOrName: string, tail: number, maxBytes: number): Promise<string> {
    try {
      const raw = (await this.docker.getContainer(idOrName).logs({ stdout: true, stderr: true, tail, follow: false })) as unknown as Buffer;
      const text = demuxDockerLogs(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)));
      return text.length > maxBytes ? text.slice(text.length - maxBytes) : text;
    } catch (err) {
      if (statusOf(err) === 404) return '';
      throw new OutpostError('RUNTIME_UNAVAILABLE', `cannot read logs of ${idOrName}: ${dockerMessage(err)}`, { cause: err });
    }
  }

  async restartContainer(idOrName: string, timeoutSeconds: number): Promise<void> {
    try {
      await this.docker.getContainer(idOrName).restart({ t: timeoutSeconds });
    } catch (err) {
      throw new OutpostError('CONTAINER_START_FAILED', `restart ${idOrName} failed: ${dockerMessage(err)}`, { cause: err });
    }
  }

  async removeImage(ref: string): Promise<boolean> {
    try {
      await this.docker.getImage(ref).remove({ noprune: false });
      return true;
    } catch (err) {
      const status = statusOf(err);
      if (status === 404 || status === 409) return false;
      throw new OutpostError('RUNTIME_UNAVAILABLE', `cannot remove image ${ref}: ${dockerMessage(err)}`, { cause: err });
    }
  }

  async volumeExists(name: string): Promise<boolean> {
    try {
      await this.docker.getVolume(name).inspect();
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw new OutpostError('RUNTIME_UNAVAILABLE', `cannot inspect volume ${name}: ${dockerMessage(err)}`, { cause: err });
    }
  }
}

/**
 * Docker multiplexes stdout and stderr of non-TTY containers into frames
 * (8-byte header: stream, 0, 0, 0, big-endian length). Plain text otherwise.
 */
export function demuxDockerLogs(buf: Buffer): string {
  const looksFramed = buf.length >= 8 && (buf[0] === 1 || buf[0] === 2) && buf[1] === 0 && buf[2] === 0 && buf[3] === 0;
  if (!looksFramed) return buf.toString('utf8');
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buf.length) {
    const length = buf.readUInt32BE(offset + 4);
    parts.push(buf.subarray(offset + 8, offset + 8 + length));
    offset += 8 + length;
  }
  return Buffer.concat(parts).toString('utf8');
}
