export const CLIENT_KINDS = ['raw', 'agent'] as const;
export type ClientKind = (typeof CLIENT_KINDS)[number];

/**
 * What a client fleet saw during the storm. Times are milliseconds since the
 * storm began. The maps keep filling after `storm()` resolved (late
 * duplicates): read them after the settle time.
 */
export interface StormObservation {
  /** Device → every delivery of its new document. */
  received: Map<string, number[]>;
  /** Device → when it converged (raw: first delivery; agent: reported the version as applied). */
  converged: Map<string, number>;
  /** Devices that took the document in more than once (raw: delivered twice; agent: accepted twice). */
  duplicated(): number;
  connackTimeouts(): number;
  /** Connections closed before their CONNACK other than by a time-out (resets, refusals). */
  closedBeforeConnack(): number;
  /** Ends the storm's clients; the counters are final after it. */
  finish(): Promise<void>;
}

export interface ClientFleet {
  /** Persistent sessions (clean=false, QoS 1 subscription to the device's desired topic) made, then every device away. */
  setup(secrets: ReadonlyMap<string, string>): Promise<void>;
  /** Every device comes back at once; resolves when all converged or at the deadline. */
  storm(deadlineMs: number): Promise<StormObservation>;
  close(): Promise<void>;
}

export interface FleetContext {
  url: string;
  ids: readonly string[];
  /** The document each device gets (byte-identical for every target and client kind). */
  document: (id: string) => string;
  version: number;
  connackTimeoutMs: number;
  will: boolean;
}
