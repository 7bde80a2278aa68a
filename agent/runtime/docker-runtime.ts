import Docker from 'dockerode';
import { OutpostError, errorMessage } from '../../shared/errors.js';
import { parseImageRef } from '../../shared/image-ref.js';
import {
  DEVICE_LABEL,
  IMAGE_LABEL,
  MANAGED_LABEL,
  SPEC_HASH_LABEL,
  WORKLOAD_LABEL,
  type ContainerCreateRequest,
  type ContainerRunState,
  type ContainerRuntime,
  type ObservedContainer,
  type ObservedImage,
  type PullOptions,
} from './runtime.js';

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

/** Classify a pull failure so reports say what to fix: the reference, the credentials, or the link. */
export function classifyPullError(message: string): 'IMAGE_NOT_FOUND' | 'REGISTRY_AUTH' | 'IMAGE_PULL_FAILED' {
  const m = message.toLowerCase();
  if (/unauthorized|authentication required|no basic auth credentials|denied/.test(m)) return 'REGISTRY_AUTH';
  if (/manifest unknown|not found|does not exist|no such image|manifest for .* not found/.test(m)) return 'IMAGE_NOT_FOUND';
  return 'IMAGE_PULL_FAILED';
}

/** The dockerode adapter of the ContainerRuntime port. Callback/stream APIs are adapted here, once. */
export class DockerRuntime implements ContainerRuntime {
  private readonly docker: Docker;

  constructor(options: { socketPath?: string; docker?: Docker } = {}) {
    this.docker = options.docker ?? new Docker(options.socketPath ? { socketPath: options.socketPath } : undefined);
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
      stream = (await this.docker.createImage({ fromImage: parsed.repository, tag })) as NodeJS.ReadableStream;
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
}
