import { statfs } from 'node:fs/promises';
import os from 'node:os';
import type { Logger } from 'pino';
import { errorMessage } from '../../shared/errors.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import type { TelemetrySources } from './collect.js';

export interface SystemSourcesInput {
  deviceId: string;
  /** The agent's state directory: the disk whose filling up matters to the agent. */
  stateDir: string;
  runtime: Pick<ContainerRuntime, 'listContainers'>;
  mqttBytes: () => { bytesIn: number; bytesOut: number };
  agentStartedAtMs: number;
  now: () => number;
  logger: Logger;
}

/** CPU times of this host now (the baseline of the first usage percentage). */
export function hostCpus(): TelemetrySources['os']['cpus'] {
  return os.cpus();
}

/**
 * Reads the sources of one telemetry sample from this host: the os module,
 * statfs of the state directory, the container engine and the MQTT counters.
 * A source that fails is left empty and logged; the sample still goes out.
 */
export async function readSystemSources(input: SystemSourcesInput): Promise<TelemetrySources> {
  let stats: TelemetrySources['disk']['stats'] = null;
  try {
    const s = await statfs(input.stateDir);
    stats = { bsize: s.bsize, blocks: s.blocks, bavail: s.bavail };
  } catch (err) {
    input.logger.debug({ err: errorMessage(err), path: input.stateDir }, 'telemetry: statfs failed');
  }
  let containers: TelemetrySources['containers'] = null;
  try {
    containers = await input.runtime.listContainers(input.deviceId);
  } catch (err) {
    input.logger.debug({ err: errorMessage(err) }, 'telemetry: cannot list containers');
  }
  return {
    deviceId: input.deviceId,
    nowMs: input.now(),
    agentStartedAtMs: input.agentStartedAtMs,
    os: {
      uptimeSeconds: os.uptime(),
      loadavg: os.loadavg(),
      cpus: os.cpus(),
      totalmemBytes: os.totalmem(),
      // libuv reads MemAvailable on Linux: memory usable without swapping, not just unused pages.
      freememBytes: os.freemem(),
    },
    disk: { path: input.stateDir, stats },
    containers,
    mqtt: input.mqttBytes(),
  };
}
