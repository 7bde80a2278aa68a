import { z } from 'zod';
import { DeviceId } from '../../shared/device-id.js';
import { SimulationConfig } from '../../agent/runtime/simulation/sim-config.js';

/** What every simulated agent of a worker shares: where the broker is and how to trust it. */
export const SimAgentSettings = z.strictObject({
  brokerUrl: z.string().min(1),
  /** PEM of the broker's CA, read once by the parent (mqtts://). */
  brokerCaPem: z.string().min(1).optional(),
  insecurePlaintext: z.boolean(),
  /** The controller's signing keys (trust file content); absent: an unsigned fleet. */
  trust: z.string().min(1).optional(),
  telemetryIntervalSeconds: z.number().int().min(0),
  /** The agents' event detail (issue 11); absent: the agent's default (summary). */
  eventDetail: z.enum(['summary', 'outcome', 'steps']).optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  /** The agents' MQTT keepalive; absent: the agent's default. */
  keepaliveSeconds: z.number().int().min(5).max(3600).optional(),
});
export type SimAgentSettings = z.infer<typeof SimAgentSettings>;

export const SimDeviceAssignment = z.strictObject({
  id: DeviceId,
  secret: z.string().min(1),
  /** This device's broker list instead of the shared one (e.g. relays in front of the brokers that a chaos run cuts). */
  brokerUrl: z.string().min(1).optional(),
  /** Added to this device's clock (a device whose clock is wrong, issue 13 F9); absent: the machine's clock. */
  clockOffsetMs: z.number().int().optional(),
});
export type SimDeviceAssignment = z.infer<typeof SimDeviceAssignment>;

export const SimContainerCreate = z.strictObject({ workload: z.string(), specHash: z.string() });
export type SimContainerCreate = z.infer<typeof SimContainerCreate>;

/** Parent → worker. */
export const ToWorker = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('start'),
    devices: z.array(SimDeviceAssignment),
    stateRoot: z.string().min(1),
    agent: SimAgentSettings,
    /** Without the seed: each device's runtime is seeded from this seed and its id. */
    simulation: SimulationConfig,
  }),
  z.strictObject({ type: z.literal('stop') }),
]);
export type ToWorker = z.infer<typeof ToWorker>;

/** Worker → parent. */
export const FromWorker = z.discriminatedUnion('type', [
  /** Modules loaded, no device yet: the worker's own footprint. */
  z.strictObject({ type: z.literal('ready'), baselineRssBytes: z.number(), baselineHeapUsedBytes: z.number() }),
  z.strictObject({ type: z.literal('started'), devices: z.number().int() }),
  z.strictObject({ type: z.literal('stats'), rssBytes: z.number(), heapUsedBytes: z.number(), devices: z.number().int() }),
  z.strictObject({ type: z.literal('failed'), deviceId: DeviceId.nullable(), message: z.string() }),
  /** Sent for each device as it stops: every container its simulated engine created (a repeated apply shows as a second create of one spec). */
  z.strictObject({ type: z.literal('creates'), deviceId: DeviceId, creates: z.array(SimContainerCreate) }),
  z.strictObject({ type: z.literal('stopped') }),
]);
export type FromWorker = z.infer<typeof FromWorker>;
