/**
 * The container-runtime port. The reconciler only sees this interface; the
 * dockerode adapter (docker-runtime.ts) is the one implementation shipped.
 * Observed containers and desired specs are separate types on purpose
 * (style guide: no one type in two modes).
 */

export const MANAGED_LABEL = 'io.outpost.managed';
export const DEVICE_LABEL = 'io.outpost.device';
export const WORKLOAD_LABEL = 'io.outpost.workload';
export const SPEC_HASH_LABEL = 'io.outpost.spec-hash';
export const IMAGE_LABEL = 'io.outpost.image';
/** On named volumes the agent creates: the app namespace they belong to (DD-024). */
export const VOLUME_NAMESPACE_LABEL = 'io.outpost.volume-namespace';

export type ContainerRunState = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface ObservedContainer {
  id: string;
  name: string;
  workload: string;
  specHash: string;
  /** Reference the container was created from (label), as in the desired spec. */
  image: string;
  /** Local image id the container runs (sha256:...). */
  imageId: string;
  state: ContainerRunState;
  exitCode: number | null;
  restartCount: number;
  startedAt: string | null;
  createdAt: string;
}

/** What Docker says about a container's health (image HEALTHCHECK or a `cmd` health check). */
export interface ContainerHealth {
  status: 'none' | 'starting' | 'healthy' | 'unhealthy';
  /** Output of the most recent health-check run. */
  lastOutput: string | null;
}

export interface ContainerDetail {
  id: string;
  running: boolean;
  restarting: boolean;
  exitCode: number | null;
  restartCount: number;
  startedAt: string | null;
  health: ContainerHealth;
  /** Container IP on its first network, for agent-side http/tcp probes. */
  address: string | null;
  /** Host ports the container publishes (`port/proto` → host ports). */
  hostPorts: string[];
}

export interface ObservedImage {
  id: string;
  repoDigests: string[];
}

export interface PullProgress {
  status: string;
  layer?: string;
  current?: number;
  total?: number;
}

export interface RegistryAuth {
  username: string;
  password: string;
  serveraddress: string;
}

export interface PullOptions {
  signal?: AbortSignal;
  /** Credentials for this pull only; never stored by the agent. */
  auth?: RegistryAuth;
  onProgress?: (progress: PullProgress) => void;
}

/** Everything Docker needs to create one container; built by container-spec.ts. */
export interface ContainerCreateRequest {
  name: string;
  options: Record<string, unknown>;
}

export interface ContainerRuntime {
  /** All containers labelled as managed for this device, in any state. */
  listContainers(deviceId: string): Promise<ObservedContainer[]>;
  /** null when the image is not on the device. */
  inspectImage(ref: string): Promise<ObservedImage | null>;
  pullImage(ref: string, options?: PullOptions): Promise<void>;
  /** Returns the container id. A name conflict with an existing container returns that container's id. */
  createContainer(request: ContainerCreateRequest): Promise<string>;
  /** Idempotent: starting a running container succeeds. */
  startContainer(idOrName: string): Promise<void>;
  /** Idempotent: stopping a stopped or missing container succeeds. */
  stopContainer(idOrName: string, timeoutSeconds: number): Promise<void>;
  /** Idempotent: removing a missing container succeeds. */
  removeContainer(idOrName: string): Promise<void>;
  /** Liveness of the engine itself. */
  ping(): Promise<void>;
  /** Detailed state for health gates; null when the container is gone. */
  inspectContainer(idOrName: string): Promise<ContainerDetail | null>;
  /** The last `tail` lines of the container's stdout+stderr, at most maxBytes (the newest kept). */
  containerLogs(idOrName: string, tail: number, maxBytes: number): Promise<string>;
  restartContainer(idOrName: string, timeoutSeconds: number): Promise<void>;
  /** Removes an image by reference; false when a container still uses it or it is gone already. */
  removeImage(ref: string): Promise<boolean>;
  /** Whether a named volume exists on the engine. */
  volumeExists(name: string): Promise<boolean>;
}
