import type { RecomputeResult } from '../desired-state/desired-publisher.js';

/** Pending devices listed by id in an answer; the count is always complete. */
export const PENDING_IDS_SHOWN = 100;

/**
 * Whether the desired documents a change concerns are on the broker yet
 * (DD-021). `pending` is not a failure: the change is stored, and the drain
 * publishes it by itself once it can (MQTT back, another controller done).
 */
export interface Delivery {
  state: 'published' | 'pending';
  /** Desired documents published by this request. */
  published: number;
  /** Devices whose new document is stored but not yet acknowledged by the broker. */
  pending: number;
  pendingDevices: string[];
  reason: string | null;
}

export function deliveryOf(result: RecomputeResult): Delivery {
  const pendingState = result.pending.length > 0 || result.deferred !== null;
  return {
    state: pendingState ? 'pending' : 'published',
    published: result.published.length,
    pending: result.pending.length,
    pendingDevices: result.pending.slice(0, PENDING_IDS_SHOWN),
    reason: pendingState ? (result.deferred ?? 'not yet acknowledged by the broker') : null,
  };
}
