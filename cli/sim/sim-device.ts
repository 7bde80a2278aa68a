import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent } from '../../agent/agent.js';
import { parseAgentConfig } from '../../agent/config.js';
import type { ConnectFn } from '../../agent/mqtt/connection.js';
import { deviceSeed } from '../../shared/seeded-random.js';
import type { SimulationConfig } from '../../agent/runtime/simulation/sim-config.js';
import { simulatedProber } from '../../agent/runtime/simulation/sim-prober.js';
import { StateStore } from '../../agent/state/state-store.js';
import { systemClock, type Clock } from '../../shared/clock.js';
import type { Logger } from '../../shared/logger.js';
import { RecordingRuntime } from './recording-runtime.js';
import type { SimAgentSettings, SimContainerCreate, SimDeviceAssignment } from './sim-messages.js';

export interface SimDevice {
  readonly id: string;
  /** Containers its simulated engine created so far. */
  creates(): readonly SimContainerCreate[];
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

/** The machine's clock moved by `offsetMs` (timers still count real milliseconds). */
function skewedClock(offsetMs: number): Clock {
  return { ...systemClock, now: () => Date.now() + offsetMs };
}

/**
 * One simulated device: the real agent core (session, latest-wins inbox,
 * disk cache, reconciler, health gate, reporter) over a SimulatedRuntime
 * seeded from the fleet seed and the device id (DD-029).
 */
export async function startSimDevice(device: SimDeviceAssignment, ctx: SimDeviceContext): Promise<SimDevice> {
  const stateDir = join(ctx.stateRoot, device.id);
  await mkdir(stateDir, { recursive: true });
  // A list `mqtt://a,mqtt://b`: the first, then the others in turn (the agent's --broker).
  const [brokerUrl, ...failoverBrokerUrls] = (device.brokerUrl ?? ctx.agent.brokerUrl).split(',').map((u) => u.trim());
  const config = parseAgentConfig({
    deviceId: device.id,
    brokerUrl,
    ...(failoverBrokerUrls.length ? { failoverBrokerUrls } : {}),
    secret: device.secret,
    stateDir,
    insecurePlaintext: ctx.agent.insecurePlaintext,
    ...(ctx.agent.trust ? { trust: ctx.agent.trust } : { acceptUnsigned: true }),
    telemetryIntervalSeconds: ctx.agent.telemetryIntervalSeconds,
    ...(ctx.agent.eventDetail ? { eventDetail: ctx.agent.eventDetail } : {}),
    logLevel: ctx.agent.logLevel,
    ...(ctx.agent.keepaliveSeconds !== undefined ? { keepaliveSeconds: ctx.agent.keepaliveSeconds } : {}),
  });
  const clock = device.clockOffsetMs ? skewedClock(device.clockOffsetMs) : systemClock;
  const runtime = new RecordingRuntime({ ...ctx.simulation, seed: deviceSeed(ctx.simulation.seed, device.id) }, { clock });
  const ca = ctx.agent.brokerCaPem ? Buffer.from(ctx.agent.brokerCaPem) : undefined;
  const agent = new Agent({
    config,
    runtime,
    store: new StateStore(stateDir, device.id, ctx.logger),
    connect: ctx.connect,
    clock,
    random: Math.random,
    logger: ctx.logger,
    bootId: `simulated-${device.id}`,
    prober: simulatedProber(runtime),
    ...(ca ? { currentTls: () => ({ ca }) } : {}),
  });
  await agent.start();
  return {
    id: device.id,
    creates: () => runtime.creates,
    async close() {
      await agent.close();
      runtime.close();
    },
  };
}
