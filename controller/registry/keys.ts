/** Every Redis key the controller uses, in one place (configurable prefix). */
export class Keys {
  constructor(readonly prefix: string) {}
  device(id: string): string {
    return `${this.prefix}device:${id}`;
  }
  devices(): string {
    return `${this.prefix}devices`;
  }
  release(app: string, version: string): string {
    return `${this.prefix}release:${app}@${version}`;
  }
  releases(): string {
    return `${this.prefix}releases`;
  }
  deployment(id: string): string {
    return `${this.prefix}deployment:${id}`;
  }
  deployments(): string {
    return `${this.prefix}deployments`;
  }
  deploymentSeq(): string {
    return `${this.prefix}seq:deployment`;
  }
  /** Per-device desired version counter: INCR only, never deleted, not even on decommission. */
  version(id: string): string {
    return `${this.prefix}version:${id}`;
  }
  /** Last published desired document of a device: {doc, hash, publishedAt}. */
  desired(id: string): string {
    return `${this.prefix}desired:${id}`;
  }
  status(id: string): string {
    return `${this.prefix}status:${id}`;
  }
  events(id: string): string {
    return `${this.prefix}events:${id}`;
  }
  /** Ids of the device's stored events (QoS 1 duplicates are dropped by id). */
  eventIds(id: string): string {
    return `${this.events(id)}:ids`;
  }
  /** One command sent to a device and, once it came, the device's answer (hash, expires some time after the command). */
  command(id: string, commandId: string): string {
    return `${this.prefix}command:${id}:${commandId}`;
  }
  /** A rollout: hash {state (RolloutState JSON), revision, publishedRevision}. */
  rollout(id: string): string {
    return `${this.prefix}rollout:${id}`;
  }
  /** Every rollout id (set). */
  rollouts(): string {
    return `${this.prefix}rollouts`;
  }
  /** Rollouts that still need ticks (set): not finished, or finished with devices whose outcome may still change. */
  activeRollouts(): string {
    return `${this.prefix}rollouts:active`;
  }
  /** Short per-rollout lock (SET NX PX): one tick or operation of a rollout at a time, across processes. */
  rolloutLock(id: string): string {
    return `${this.prefix}rollout-lock:${id}`;
  }
  /** Job id of the rollout's next scheduled tick (the tick chain). */
  rolloutNextTick(id: string): string {
    return `${this.prefix}rollout-next:${id}`;
  }
  /** BullMQ prefix: its keys live under `<prefix>bull:<queue>:…`. */
  bullPrefix(): string {
    return `${this.prefix}bull`;
  }
  metrics(): string {
    return `${this.prefix}metrics`;
  }
  /** Device credential record (format and key shared with the broker: shared/device-credentials.ts). */
  credential(id: string): string {
    return `${this.prefix}cred:${id}`;
  }
  /**
   * A device secret a broker's admin API still has to be given (plaintext: the
   * Mosquitto dynamic-security plugin takes passwords only as such). Written in
   * the same atomic step as the credential record, deleted once applied (DD-030).
   */
  brokerSecretPending(id: string): string {
    return `${this.prefix}broker-secret:${id}`;
  }
  /** Ids with a pending broker secret (set). */
  brokerSecretsPending(): string {
    return `${this.prefix}broker-secrets`;
  }
  /**
   * Anti-entropy's marker token (string, created once with SET NX): the
   * controller keeps it retained on the broker with the registry generation;
   * a broker without it, or ahead of this registry, lost state (DD-031).
   */
  retainedMarker(): string {
    return `${this.prefix}retained-marker`;
  }
  /** Anti-entropy's SSCAN cursor over the device set: each pass audits the next slice (DD-031). */
  auditCursor(): string {
    return `${this.prefix}audit-cursor`;
  }
  /** Registry generation: INCR in the same atomic step as every registry change (DD-021). */
  generation(): string {
    return `${this.prefix}gen`;
  }
  /**
   * Durable intent (DD-021): sorted set of scopes whose desired documents may
   * be out of date, scored by the generation that marked them. Scopes:
   * `d:<device id>`, `s:<selector>`, `*` (every device).
   */
  dirty(): string {
    return `${this.prefix}dirty`;
  }
  /** Devices whose stored desired document the broker has not acknowledged yet (set). */
  unpublished(): string {
    return `${this.prefix}unpublished`;
  }
  /** One controller publishes desired documents at a time (SET NX PX, renewed): per-device order on the wire. */
  publishLease(): string {
    return `${this.prefix}publish-lease`;
  }
  /** A removed deployment, kept for a day so a retried DELETE answers as the first one did. */
  deploymentTombstone(id: string): string {
    return `${this.prefix}tomb:deployment:${id}`;
  }
  /** A device being (or recently) decommissioned: JSON Decommission record (DD-022). */
  deviceTombstone(id: string): string {
    return `${this.prefix}tomb:device:${id}`;
  }
  /** The controller's desired-state signing keys (hash: active, next — PKCS#8 PEM), DD-026. */
  signingKeys(): string {
    return `${this.prefix}signing-keys`;
  }
  /** When each device's published desired document expires (sorted set, ms): re-signed well before. */
  expiries(): string {
    return `${this.prefix}expiries`;
  }
  /**
   * DD-062: devices whose acknowledged desired document nobody has seen them
   * receive yet (sorted set, score: when to check, ms).
   */
  receipts(): string {
    return `${this.prefix}receipts`;
  }
  /** Devices whose decommission has steps left (set). */
  decommissioning(): string {
    return `${this.prefix}decommissioning`;
  }
  /** An API token (DD-025): hash {record (JSON, with the sha256 of its secret), name, lastUsedAt}. */
  token(id: string): string {
    return `${this.prefix}token:${id}`;
  }
  /** Ids of the live API tokens (set). */
  tokens(): string {
    return `${this.prefix}tokens`;
  }
  /** Token name → id (hash): names are unique among live tokens. */
  tokenNames(): string {
    return `${this.prefix}tokens:names`;
  }
  /** The audit log of mutating API calls (sorted set, score = seq; trimmed to a bounded size). */
  audit(): string {
    return `${this.prefix}audit`;
  }
  /** Sequence number of the last audit entry (INCR only). */
  auditSeq(): string {
    return `${this.prefix}seq:audit`;
  }
  /**
   * Credentials of one private registry (DD-041): JSON {username, sealed, updatedAt},
   * the password sealed with the key from the data directory, never in clear.
   */
  registryCredential(host: string): string {
    return `${this.prefix}registry-cred:${host}`;
  }
  /** Hosts with stored registry credentials (set). */
  registryCredentials(): string {
    return `${this.prefix}registry-creds`;
  }
}
