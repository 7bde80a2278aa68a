/**
 * How a lossy link looks to an application on top of TCP, for a userspace
 * proxy that cannot drop packets (tc netem is missing on these machines).
 * TCP never loses bytes: a lost segment is sent again after a retransmission
 * time-out, and every byte behind it waits (head-of-line blocking). So each
 * segment (`mss` bytes of a chunk read from a socket) is lost with
 * `lossRate` on each transmission; a loss delays it by the RTO, the next loss
 * of the same segment by twice that (RFC 6298 5.5 backoff), and nothing behind
 * it is delivered earlier. Pure: the proxy (lossy-link.ts) runs the schedule.
 *
 * Simplifications, each making the link no kinder than a real one: no fast
 * retransmit (with MQTT's sparse traffic three duplicate ACKs rarely follow a
 * loss), and pure ACKs are never lost (their loss is covered by the next ACK).
 */
export interface LossModel {
  /** One-way delay of every segment. */
  readonly delayMs: number;
  /** Probability that one transmission of a segment is lost. */
  readonly lossRate: number;
  /** Wait before the first retransmission of a lost segment. */
  readonly rtoMs: number;
  /** Bytes of payload per segment: 1448 on a 1500-byte MTU with TCP timestamps. */
  readonly mss: number;
}

/** One direction of one connection. */
export interface DirectionState {
  /** When the previous segment was delivered: nothing overtakes it. */
  lastDeliverAt: number;
  segments: number;
  /** Transmissions lost (a segment lost twice counts twice). */
  lost: number;
  /** Sum of the retransmission time-outs waited. */
  retransmitWaitMs: number;
}

export interface SegmentDelivery {
  readonly start: number;
  readonly end: number;
  readonly deliverAt: number;
}

export function newDirectionState(): DirectionState {
  return { lastDeliverAt: 0, segments: 0, lost: 0, retransmitWaitMs: 0 };
}

/** Linux's RTO once it has measured the path: the RTT plus its 200 ms floor for the variance term. */
export function defaultRtoMs(delayMs: number): number {
  return 2 * delayMs + 200;
}

/** When each segment of a chunk of `length` bytes that arrived at `arrivedAt` reaches the other side. Updates `state`. */
export function scheduleChunk(model: LossModel, state: DirectionState, arrivedAt: number, length: number, random: () => number): SegmentDelivery[] {
  const out: SegmentDelivery[] = [];
  for (let start = 0; start < length; start += model.mss) {
    let wait = 0;
    for (let rto = model.rtoMs; random() < model.lossRate; rto *= 2) {
      wait += rto;
      state.lost += 1;
    }
    state.segments += 1;
    state.retransmitWaitMs += wait;
    state.lastDeliverAt = Math.max(arrivedAt + model.delayMs + wait, state.lastDeliverAt);
    out.push({ start, end: Math.min(length, start + model.mss), deliverAt: state.lastDeliverAt });
  }
  return out;
}
