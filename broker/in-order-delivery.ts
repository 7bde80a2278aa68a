/**
 * aedes drops a delivery whose per-broker counter is not above the last one
 * it sent the same client (lib/client.js `dedupe`), meant to suppress the
 * second copy when overlapping subscriptions match one message. But counters
 * are assigned when a PUBLISH arrives and messages reach subscribers only
 * after their persistence writes: a retained report (stored first) overtaken
 * by a later, non-retained event from the same device is then silently
 * dropped for every live subscriber of both — the report is retained, yet
 * the controller never sees it (DD-016). Outpost's subscriptions never
 * overlap (devices: exact topics; the service: disjoint channel wildcards),
 * and QoS 1 is at-least-once anyway, so the counter check is switched off
 * per client: a possible duplicate beats a lost message.
 */
export function disableCounterDedupe(client: object): void {
  Object.defineProperty(client, 'duplicates', {
    value: new Proxy(
      {},
      {
        get: () => 0,
        set: () => true,
      },
    ),
    writable: false,
    configurable: true,
  });
}
