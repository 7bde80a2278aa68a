import { randomBytes } from 'node:crypto';
import type { WorkloadSpecInput } from '../../shared/schemas/workload.js';
import { startAgent, type AgentProcessOptions } from './agent-process.js';
import type { BrokerFixture } from './brokers.js';
import { removeDeviceContainers } from './docker.js';
import type { ManagedProcess } from './process.js';
import { makeTempDir, type TempDir } from './temp-dir.js';
import { desiredDoc, type DeviceWatch, type TestController } from './test-controller.js';

/** One enrolled device with its state dir, its watch, and a way to (re)start its agent. */
export interface DeviceRig {
  readonly deviceId: string;
  readonly secret: string;
  readonly stateDir: TempDir;
  readonly watch: DeviceWatch;
  agent: ManagedProcess | undefined;
  startAgent(opts?: Partial<Pick<AgentProcessOptions, 'env' | 'extraArgs' | 'brokerUrl' | 'profile' | 'timings' | 'launcher' | 'bufferLines'>>): Promise<ManagedProcess>;
  stopAgent(): Promise<void>;
  publish(version: number, workloads: Record<string, WorkloadSpecInput>): Promise<void>;
  /** Waits for a converged report at `version`. */
  converged(version: number, timeoutMs?: number): ReturnType<DeviceWatch['waitForReport']>;
  dispose(): Promise<void>;
}

export async function createDeviceRig(broker: BrokerFixture, controller: TestController, prefix: string): Promise<DeviceRig> {
  const deviceId = `${prefix}-${randomBytes(4).toString('hex')}`;
  const secret = await broker.enroll(deviceId);
  const stateDir = await makeTempDir(`state-${prefix}`);
  const watch = await controller.watch(deviceId);
  const rig: DeviceRig = {
    deviceId,
    secret,
    stateDir,
    watch,
    agent: undefined,
    async startAgent(opts = {}) {
      rig.agent = await startAgent({
        deviceId,
        brokerUrl: opts.brokerUrl ?? broker.url,
        secret,
        stateDir: stateDir.path,
        ...(opts.env ? { env: opts.env } : {}),
        ...(opts.extraArgs ? { extraArgs: opts.extraArgs } : {}),
        ...(opts.profile ? { profile: opts.profile } : {}),
        ...(opts.timings ? { timings: opts.timings } : {}),
        ...(opts.launcher ? { launcher: opts.launcher } : {}),
        ...(opts.bufferLines ? { bufferLines: opts.bufferLines } : {}),
      });
      return rig.agent;
    },
    async stopAgent() {
      await rig.agent?.stop();
      rig.agent = undefined;
    },
    publish: (version, workloads) => controller.publishDesired(deviceId, desiredDoc(deviceId, version, workloads)),
    converged: (version, timeoutMs = 60_000) =>
      watch.waitForReport((r) => r.phase === 'converged' && r.desired.appliedVersion === version, timeoutMs, `converged at v${version}`),
    async dispose() {
      await rig.agent?.stop();
      await removeDeviceContainers(deviceId);
      await stateDir.remove();
    },
  };
  return rig;
}
