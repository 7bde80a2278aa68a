import { join } from 'node:path';
import type { AgentConfig } from '../config.js';

/** A host path no workload may mount, and what it would expose (for the refusal message). */
export interface ForbiddenPath {
  path: string;
  what: string;
}

/**
 * The device's own policy (DD-024): set by the device operator through agent
 * flags, never by the desired document, so a controller (or whoever steers
 * it) cannot widen it. Plain data; checks live next to it.
 */
export interface DevicePolicy {
  /** Host directories bind mounts may come from; empty: no bind mounts at all. */
  allowedHostPaths: readonly string[];
  /**
   * Never mountable, nor any directory containing them. An allowed host path
   * inside one of them is the operator's explicit exception (e.g. /dev/serial).
   */
  forbiddenPaths: readonly ForbiddenPath[];
  /** Capabilities a workload may ask for beyond DEFAULT_CAPABILITIES. */
  allowedCapabilities: readonly string[];
  /** Named volumes used under their own name, shared by every workload; all others are namespaced per app. */
  allowedVolumes: readonly string[];
}

const ENGINE = 'the container engine';

/** Pitfalls.md: access to the engine is root on the device; so is the kernel's and the host's configuration. */
export const BUILTIN_FORBIDDEN: readonly ForbiddenPath[] = [
  { path: '/var/run/docker.sock', what: `${ENGINE} (Docker socket)` },
  { path: '/run/docker.sock', what: `${ENGINE} (Docker socket)` },
  { path: '/var/run/docker', what: `${ENGINE} (Docker run directory)` },
  { path: '/run/docker', what: `${ENGINE} (Docker run directory)` },
  { path: '/var/lib/docker', what: `${ENGINE} (Docker data directory)` },
  { path: '/var/run/containerd', what: `${ENGINE} (containerd socket)` },
  { path: '/run/containerd', what: `${ENGINE} (containerd socket)` },
  { path: '/var/lib/containerd', what: `${ENGINE} (containerd data directory)` },
  { path: '/proc', what: 'the host kernel (/proc)' },
  { path: '/sys', what: 'the host kernel (/sys)' },
  { path: '/dev', what: 'host devices (/dev)' },
  { path: '/etc', what: 'the host configuration (/etc)' },
];

export interface DevicePolicyInput {
  allowedHostPaths: readonly string[];
  /** A custom engine socket (--docker-socket): as forbidden as the default one. */
  dockerSocket?: string | undefined;
  stateDir: string;
  locksDir?: string | undefined;
  /** Files holding the agent's secrets (device secret, keys). */
  secretFiles: readonly (string | undefined)[];
  allowedCapabilities: readonly string[];
  allowedVolumes: readonly string[];
}

/** The policy from the agent's configuration. Pure. */
export function devicePolicy(input: DevicePolicyInput): DevicePolicy {
  const own: ForbiddenPath[] = [
    { path: input.stateDir, what: "the agent's state directory" },
    { path: input.locksDir ?? join(input.stateDir, 'locks'), what: "the agent's update-lock directories" },
    ...input.secretFiles.flatMap((f) => (f ? [{ path: f, what: "the agent's secret file" }] : [])),
  ];
  if (input.dockerSocket) own.push({ path: input.dockerSocket, what: `${ENGINE} (the Docker socket the agent uses)` });
  return {
    allowedHostPaths: [...input.allowedHostPaths],
    forbiddenPaths: [...BUILTIN_FORBIDDEN, ...own],
    allowedCapabilities: [...new Set(input.allowedCapabilities)].sort(),
    allowedVolumes: [...new Set(input.allowedVolumes)].sort(),
  };
}

/** The policy an agent configuration sets (agent flags; see docs/operations.md, "The device's own policy"). */
export function devicePolicyFromConfig(
  config: Pick<AgentConfig, 'allowedHostPaths' | 'dockerSocket' | 'stateDir' | 'locksDir' | 'secretFile' | 'keyFile' | 'allowedCapabilities' | 'allowedVolumes'>,
): DevicePolicy {
  return devicePolicy({
    allowedHostPaths: config.allowedHostPaths,
    dockerSocket: config.dockerSocket,
    stateDir: config.stateDir,
    locksDir: config.locksDir,
    secretFiles: [config.secretFile, config.keyFile],
    allowedCapabilities: config.allowedCapabilities,
    allowedVolumes: config.allowedVolumes,
  });
}
