import type { DeliveryBody } from '../client/responses.js';
import { formatList, plural } from './format.js';

/**
 * One line on whether a change is on the broker yet. Pending is not an
 * error: the change is stored and the controller publishes it by itself.
 */
export function deliveryLine(delivery: DeliveryBody | undefined, publishedFallback: number): string {
  if (!delivery) return `published ${plural(publishedFallback, 'desired state')}`;
  const published = `published ${plural(delivery.published, 'desired state')}`;
  if (delivery.state !== 'pending') return published;
  const devices = delivery.pending > 0 ? `; pending for ${plural(delivery.pending, 'device')} (${formatList(delivery.pendingDevices, 5)})` : '; pending';
  return `${published}${devices}: ${delivery.reason ?? 'not on the broker yet'}. Stored: the controller publishes it by itself, nothing to retry.`;
}
