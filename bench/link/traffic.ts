/**
 * What a device's link carried, by purpose: pure functions over the packets
 * and chunks an MQTT relay recorded (test/helpers/mqtt-relay.ts). MQTT level
 * is exact (the bytes of the packets); IP level is estimated from the chunks,
 * each about one TCP segment, with the header sizes below.
 */

export type Direction = 'up' | 'down';

export interface Packet {
  direction: Direction;
  cmd: string;
  topic?: string;
  messageId?: number;
  bytes: number;
}

export interface Chunk {
  direction: Direction;
  bytes: number;
  at: number;
}

export const CATEGORIES = ['desired', 'reported', 'events', 'presence', 'telemetry', 'commands', 'keepalive', 'session'] as const;
export type Category = (typeof CATEGORIES)[number];

/** Bytes per category; a PUBACK counts with the PUBLISH it acknowledges. */
export type Ledger = Record<Category, { messages: number; bytes: number }>;

export function emptyLedger(): Ledger {
  return Object.fromEntries(CATEGORIES.map((c) => [c, { messages: 0, bytes: 0 }])) as Ledger;
}

function topicCategory(topic: string | undefined): Category {
  const last = topic?.split('/').at(-1);
  return (CATEGORIES as readonly string[]).includes(last ?? '') ? (last as Category) : 'session';
}

/** Sorts packets into categories; `messages` counts PUBLISHes only (or pings, or session packets). */
export function ledgerOf(packets: readonly Packet[]): Ledger {
  const ledger = emptyLedger();
  // messageId → category of the PUBLISH, per direction it travelled
  const inFlight = { up: new Map<number, Category>(), down: new Map<number, Category>() };
  for (const p of packets) {
    let category: Category;
    if (p.cmd === 'publish') {
      category = topicCategory(p.topic);
      ledger[category].messages += 1;
      if (p.messageId !== undefined) inFlight[p.direction].set(p.messageId, category);
    } else if (p.cmd === 'puback' || p.cmd === 'pubrec' || p.cmd === 'pubrel' || p.cmd === 'pubcomp') {
      const from = p.direction === 'up' ? inFlight.down : inFlight.up;
      category = (p.messageId !== undefined ? from.get(p.messageId) : undefined) ?? 'session';
    } else if (p.cmd === 'pingreq' || p.cmd === 'pingresp') {
      category = 'keepalive';
      if (p.cmd === 'pingreq') ledger.keepalive.messages += 1;
    } else {
      category = 'session';
      ledger.session.messages += 1;
    }
    ledger[category].bytes += p.bytes;
  }
  return ledger;
}

export function ledgerTotal(ledger: Ledger): number {
  return CATEGORIES.reduce((sum, c) => sum + ledger[c].bytes, 0);
}

/** Header sizes used for the IP-level estimate. */
export const IP_MODEL = {
  /** IPv4 (20) + TCP (20) + the timestamp option Linux sends (12). */
  segmentHeader: 52,
  /** Payload per segment on a 1,500-byte-MTU path. */
  mss: 1448,
  /** A segment the peer does not answer within this long gets a pure ACK of its own. */
  delayedAckMs: 40,
  /** TLS 1.3 with AES-GCM: 5-byte record header, 1 content type, 16-byte tag. */
  tlsRecordOverhead: 22,
  /** SYN (60) + SYN-ACK (60) + ACK (52): opening a TCP connection. */
  tcpOpen: 172,
} as const;

export interface IpEstimate {
  segments: number;
  pureAcks: number;
  /** MQTT bytes plus TCP/IP headers of data segments and pure ACKs. */
  tcpBytes: number;
  /** Plus one TLS record per chunk (each write of the client or broker is one record). */
  tlsBytes: number;
}

/**
 * IP-level bytes for a run of chunks: every chunk is one write, i.e. one
 * TLS record and ⌈bytes / MSS⌉ segments; a segment is acknowledged by the
 * peer's next segment if that leaves within the delayed-ACK time, otherwise
 * by a pure ACK.
 */
export function estimateIp(chunks: readonly Chunk[], model = IP_MODEL): IpEstimate {
  let segments = 0;
  let pureAcks = 0;
  let payload = 0;
  // the time of the nearest later chunk in each direction, walking backwards
  const later: Record<Direction, number | null> = { up: null, down: null };
  for (let i = chunks.length - 1; i >= 0; i -= 1) {
    const c = chunks[i] as Chunk;
    segments += Math.max(1, Math.ceil(c.bytes / model.mss));
    payload += c.bytes;
    const answer = later[c.direction === 'up' ? 'down' : 'up'];
    if (answer === null || answer - c.at > model.delayedAckMs) pureAcks += 1;
    later[c.direction] = c.at;
  }
  const tcpBytes = payload + (segments + pureAcks) * model.segmentHeader;
  return { segments, pureAcks, tcpBytes, tlsBytes: tcpBytes + chunks.length * model.tlsRecordOverhead };
}
