import { z } from 'zod';

/** Parent → storm agent worker. */
export const ToAgentWorker = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('start'),
    devices: z.array(z.strictObject({ id: z.string(), secret: z.string() })),
    stateRoot: z.string().min(1),
    brokerUrl: z.string().min(1),
    connackTimeoutMs: z.number().int().min(1000),
    /** The version of the storm's document. */
    version: z.number().int().min(1),
  }),
  z.strictObject({ type: z.literal('stop') }),
]);
export type ToAgentWorker = z.infer<typeof ToAgentWorker>;

/**
 * subscribed: SUBACK received; received: the document arrived on the wire;
 * accepted: the agent took the version in (its desired.received event);
 * applied: the agent reported the version as applied. `at` is epoch ms.
 */
export const AgentEvent = z.strictObject({ kind: z.enum(['subscribed', 'received', 'accepted', 'applied']), id: z.string(), at: z.number() });
export type AgentEvent = z.infer<typeof AgentEvent>;

/** Storm agent worker → parent. */
export const FromAgentWorker = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('ready') }),
  z.strictObject({ type: z.literal('started') }),
  z.strictObject({ type: z.literal('events'), events: z.array(AgentEvent) }),
  z.strictObject({ type: z.literal('counters'), connackTimeouts: z.number().int(), closedBeforeConnack: z.number().int() }),
  z.strictObject({ type: z.literal('failed'), message: z.string() }),
]);
export type FromAgentWorker = z.infer<typeof FromAgentWorker>;
