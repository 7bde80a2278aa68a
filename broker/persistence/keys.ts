/**
 * DD-028. Redis key layout of Outpost's aedes persistence. Everything a client
 * owns is keyed by its own (URI-encoded) id, so every operation touches only
 * that client's keys, and nothing scans a global list:
 *
 * - `<p>subs:<id>`      hash  topic → subscription (msgpack)
 * - `<p>clients`        set   ids with at least one stored subscription
 * - `<p>q:<id>`         list  queued entry ids (`<brokerId>:<brokerCounter>`), oldest first
 * - `<p>qp:<id>`        hash  entry id → packet (msgpack, with its message id once sent)
 * - `<p>qm:<id>`        hash  message id → entry id of what is in flight
 * - `<p>in:<id>`        hash  message id → inbound QoS 2 packet
 * - `<p>will:<id>`      hash  `b` → broker id, `p` → will packet
 * - `<p>wills`          set   ids that have a will (the will sweep's index)
 * - `<p>retained`       hash  topic → retained packet (exact lookups by HMGET)
 */
export interface PersistenceKeys {
  readonly prefix: string;
  readonly clients: string;
  readonly wills: string;
  readonly retained: string;
  subs(clientId: string): string;
  queue(clientId: string): string;
  queuePackets(clientId: string): string;
  queueMessageIds(clientId: string): string;
  incoming(clientId: string): string;
  will(clientId: string): string;
  /** The four keys of a client's offline queue and in-flight state, in script order. */
  session(clientId: string): [subs: string, queue: string, packets: string, messageIds: string];
}

export function persistenceKeys(prefix: string): PersistenceKeys {
  const of = (kind: string) => (clientId: string): string => `${prefix}${kind}:${encodeURIComponent(clientId)}`;
  const subs = of('subs');
  const queue = of('q');
  const queuePackets = of('qp');
  const queueMessageIds = of('qm');
  return {
    prefix,
    clients: `${prefix}clients`,
    wills: `${prefix}wills`,
    retained: `${prefix}retained`,
    subs,
    queue,
    queuePackets,
    queueMessageIds,
    incoming: of('in'),
    will: of('will'),
    session: (clientId) => [subs(clientId), queue(clientId), queuePackets(clientId), queueMessageIds(clientId)],
  };
}
