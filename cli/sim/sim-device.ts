import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent } from '../../agent/agent.js';
import { parseAgentConfig } from '../../agent/config.js';
import type { ConnectFn } from '../../agent/mqtt/connection.js';
import { SimulatedRuntime } from '../../agent/runtime/simulated-runtime.js';
import { deviceSeed } from '../../shared/seeded-random.js';
import type { SimulationConfig } from '../../agent/runtime/simulation/sim-config.js';
import { simulatedProber } from '../../agent/runtime/simulation/sim-prober.js';
import { StateStore } from '../../agent/state/state-store.js';
import { systemClock } from '../../shared/clock.js';
import type { Logger } from '../../shared/logger.js';
import type { SimAgentSettings, SimDeviceAssignment } from './sim-messages.js';

export interface SimDevice {
  readonly id: string;
  close(): Promise<void>;
}

export interface SimDeviceContext {
  stateRoot: string;
  agent: SimAgentSettings;
  simulation: SimulationConfig;
  /** One logger per worker process, shared by its devices (memory). */
  logger: Logger;
  connect: ConnectFn;
}

/**
 * One simulated device: the real agent core (session, latest-wins inbox,
 * disk cache, reconciler, health gate, reporter) over a SimulatedRuntime
 * seeded from the fleet seed and the device id (DD-029).
 */
export async function startSimDevice(device: SimDeviceAssignment, ctx: SimDeviceContext): Promise<SimDevice> {
  const stateDir = join(ctx.stateRoot, device.id);
  await mkdir(stateDir, { recursive: true });
  const config = parseAgentConfig({
    deviceId: device.id,
    brokerUrl: ctx.agent.brokerUrl,
    secret: device.secret,
    stateDir,
    insecurePlaintext: ctx.agent.insecurePlaintext,
    ...(ctx.agent.trust ? { trust: ctx.agent.trust } : { acceptUnsigned: true }),
    telemetryIntervalSeconds: ctx.agent.telemetryIntervalSeconds,
    ...(ctx.agent.eventDetail ? { eventDetail: ctx.agent.eventDetail } : {}),
    logLevel: ctx.agent.logLevel,
  });
  const runtime = new SimulatedRuntime({ ...ctx.simulation, seed: deviceSeed(ctx.simulation.seed, device.id) });
  const ca = ctx.agent.brokerCaPem ? Buffer.from(ctx.agent.brokerCaPem) : undefined;
  const agent = new Agent({
    config,
    runtime,
    store: new StateStore(stateDir, device.id, ctx.logger),
    connect: ctx.connect,
    clock: systemClock,
    random: Math.random,
    logger: ctx.logger,
    bootId: `simulated-${device.id}`,
    prober: simulatedProber(runtime),
    ...(ca ? { currentTls: () => ({ ca }) } : {}),
  });
  await agent.start();
  return {
    id: device.id,
    async close() {
      await agent.close();
      runtime.close();
    },
  };
}
