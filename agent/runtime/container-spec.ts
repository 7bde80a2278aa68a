import type { WorkloadSpec } from '../../shared/schemas/workload.js';
import type { WorkloadGrant } from '../policy/admit-workload.js';
import {
  DEVICE_LABEL,
  IMAGE_LABEL,
  MANAGED_LABEL,
  SPEC_HASH_LABEL,
  VOLUME_NAMESPACE_LABEL,
  WORKLOAD_LABEL,
  type ContainerCreateRequest,
} from './runtime.js';

/**
 * Deterministic container name: one name per (device, workload, spec), so a
 * create retried after a crash finds the container it already made instead of
 * making a second one.
 */
export function containerName(deviceId: string, workload: string, specHash: string): string {
  return `outpost-${deviceId}-${workload}-${specHash.slice(0, 12)}`;
}

/** What the agent adds to every container beyond the spec. */
export interface ContainerExtras {
  /** Host directory mounted at /run/outpost, where the workload may take its update lock. */
  lockDir?: string;
}

/** Where a workload sees its update-lock directory. */
export const LOCK_MOUNT_TARGET = '/run/outpost';

/**
 * Pure mapping from a workload spec to Docker's create body. Mounts and
 * capabilities come from the device policy's grant (DD-024): bind sources as
 * resolved when they were checked, named volumes under their namespaced
 * names, CapDrop ALL plus the granted set, and no-new-privileges always.
 */
export function toContainerCreate(
  deviceId: string,
  workload: string,
  spec: WorkloadSpec,
  specHash: string,
  grant: WorkloadGrant,
  extras: ContainerExtras = {},
): ContainerCreateRequest {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp?: string; HostPort: string }[]> = {};
  for (const p of spec.ports ?? []) {
    const key = `${p.container}/${p.protocol}`;
    exposed[key] = {};
    (bindings[key] ??= []).push({ HostPort: String(p.host), ...(p.hostIp ? { HostIp: p.hostIp } : {}) });
  }
  const mounts: Record<string, unknown>[] = grant.mounts.map((m) => {
    switch (m.type) {
      case 'volume':
        return {
          Type: 'volume',
          Source: m.name,
          Target: m.target,
          ReadOnly: m.readOnly,
          // Applied when Docker creates the volume: whose it is, for operators (`docker volume ls --filter label=…`).
          ...(m.namespace !== null ? { VolumeOptions: { Labels: { [MANAGED_LABEL]: 'true', [VOLUME_NAMESPACE_LABEL]: m.namespace } } } : {}),
        };
      case 'bind':
        return { Type: 'bind', Source: m.source, Target: m.target, ReadOnly: m.readOnly };
      case 'tmpfs':
        return { Type: 'tmpfs', Target: m.target, ...(m.sizeBytes ? { TmpfsOptions: { SizeBytes: m.sizeBytes } } : {}) };
    }
  });
  if (extras.lockDir) mounts.push({ Type: 'bind', Source: extras.lockDir, Target: LOCK_MOUNT_TARGET, ReadOnly: false });
  const restart =
    spec.restart === 'on-failure'
      ? { Name: 'on-failure', MaximumRetryCount: spec.restartMaxRetries ?? 0 }
      : { Name: spec.restart === 'no' ? '' : spec.restart };

  const options: Record<string, unknown> = {
    Image: spec.image,
    Labels: {
      ...(spec.labels ?? {}),
      [MANAGED_LABEL]: 'true',
      [DEVICE_LABEL]: deviceId,
      [WORKLOAD_LABEL]: workload,
      [SPEC_HASH_LABEL]: specHash,
      [IMAGE_LABEL]: spec.image,
    },
    Env: Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
    ExposedPorts: exposed,
    StopTimeout: spec.stopTimeoutSeconds,
    HostConfig: {
      PortBindings: bindings,
      RestartPolicy: restart,
      Mounts: mounts,
      ...(spec.resources?.memoryBytes ? { Memory: spec.resources.memoryBytes } : {}),
      ...(spec.resources?.cpus ? { NanoCpus: Math.round(spec.resources.cpus * 1e9) } : {}),
      ...(spec.resources?.pidsLimit ? { PidsLimit: spec.resources.pidsLimit } : {}),
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
      Privileged: false,
      SecurityOpt: ['no-new-privileges:true'],
      CapDrop: ['ALL'],
      CapAdd: grant.capAdd,
    },
  };
  if (spec.command) options.Cmd = spec.command;
  if (spec.entrypoint) options.Entrypoint = spec.entrypoint;
  if (spec.user) options.User = spec.user;
  if (spec.workingDir) options.WorkingDir = spec.workingDir;
  if (spec.health?.type === 'cmd') {
    const h = spec.health;
    options.Healthcheck = {
      Test: ['CMD', ...h.command],
      Interval: h.intervalSeconds * 1e9,
      Timeout: h.timeoutSeconds * 1e9,
      Retries: h.retries,
      StartPeriod: h.startPeriodSeconds * 1e9,
    };
  }
  return { name: containerName(deviceId, workload, specHash), options };
}
