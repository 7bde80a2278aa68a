/** Re-sends of one version to a device that stays online without showing it; then the controller stops and says so. */
export const MAX_RESENDS = 3;

/** What the controller knows of one device whose document was acknowledged by the broker a grace period ago (DD-062). */
export interface ReceiptFacts {
  /** The stored desired version; null: no record (device gone). */
  readonly version: number | null;
  /** The version the broker acknowledged last; another one than `version` means the drain owns the device. */
  readonly published: number | null;
  /** When the broker acknowledged it (controller ms). */
  readonly ackedAtMs: number;
  /** Highest version the device says it received: its report's seenVersion and rejected version, its desired.* events. */
  readonly shownVersion: number | null;
  readonly online: boolean;
  /** When the controller stored the online presence of the device's current connection; null: not known. */
  readonly onlineSinceMs: number | null;
  /** Re-sends of `version` so far. */
  readonly resends: number;
}

/**
 * - received / unpublished / gone: nothing to check any more;
 * - offline: the broker keeps the retained document and sends it at the next connection;
 * - connected-after: the connection began after the publish, so its subscription brought the retained copy;
 * - resend: online through the publish, and a grace period later nothing shows the document arrived;
 * - gave-up: re-sent MAX_RESENDS times already.
 */
export type ReceiptVerdict = 'received' | 'unpublished' | 'gone' | 'offline' | 'connected-after' | 'resend' | 'gave-up';

/**
 * DD-062: a live QoS 1 message can still miss an online subscriber (a
 * broker cluster's Redis pub/sub is at most once; a bridge may drop). The
 * retained copy is only read at the next subscription, which may be days
 * away on a quiet link; this says whether to send the document again.
 */
export function planReceipt(f: ReceiptFacts): ReceiptVerdict {
  if (f.version === null) return 'gone';
  if (f.published !== f.version) return 'unpublished';
  if (f.shownVersion !== null && f.shownVersion >= f.version) return 'received';
  if (!f.online) return 'offline';
  if (f.onlineSinceMs !== null && f.onlineSinceMs > f.ackedAtMs) return 'connected-after';
  return f.resends >= MAX_RESENDS ? 'gave-up' : 'resend';
}
