import { describe, expect, it } from 'vitest';
import { MAX_RESENDS, planReceipt, type ReceiptFacts } from '../../controller/desired-state/receipt-plan.js';

const ACKED = 1_000_000;
/** Online since before the publish, acknowledged version 5, nothing shown yet. */
const base: ReceiptFacts = { version: 5, published: 5, ackedAtMs: ACKED, shownVersion: 4, online: true, onlineSinceMs: ACKED - 60_000, resends: 0 };

describe('planReceipt (DD-062)', () => {
  it('re-sends to a device online through the publish that shows an older version', () => {
    expect(planReceipt(base)).toBe('resend');
    expect(planReceipt({ ...base, shownVersion: null })).toBe('resend');
    // A status written before onlineSinceMs existed: online, since when unknown.
    expect(planReceipt({ ...base, onlineSinceMs: null })).toBe('resend');
    expect(planReceipt({ ...base, resends: MAX_RESENDS - 1 })).toBe('resend');
  });

  it.each<[string, Partial<ReceiptFacts>, string]>([
    ['the version shown (report, refusal or event)', { shownVersion: 5 }, 'received'],
    ['a newer version shown', { shownVersion: 6 }, 'received'],
    ['offline: the retained copy comes at its next connection', { online: false }, 'offline'],
    ['connected after the acknowledgement: its subscription brought the retained copy', { onlineSinceMs: ACKED + 1 }, 'connected-after'],
    ['no record: the device is gone', { version: null }, 'gone'],
    ['a newer version stored and not yet acknowledged: the drain owns it', { version: 6 }, 'unpublished'],
    ['marked unpublished (a refresh on its way)', { published: null }, 'unpublished'],
    [`re-sent ${MAX_RESENDS} times already`, { resends: MAX_RESENDS }, 'gave-up'],
  ])('leaves it alone when %s', (_why, change, verdict) => {
    expect(planReceipt({ ...base, ...change })).toBe(verdict);
  });

  it('what the device shows wins over everything but a missing or unacknowledged record', () => {
    expect(planReceipt({ ...base, shownVersion: 5, online: false, resends: MAX_RESENDS })).toBe('received');
    expect(planReceipt({ ...base, shownVersion: 5, version: null })).toBe('gone');
  });
});
