import type { RedisSnapshot } from './redis-proxy.js';

export const TARGET_KINDS = ['outpost', 'outpost-mosquitto', 'mosquitto'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

/** A broker set-up under test, fresh for one combination of the storm. */
export interface Target {
  kind: TargetKind;
  /** How the table names it. */
  label: string;
  url: string;
  /** The broker process (CPU and RSS from /proc). */
  pid: number;
  /** The controller's service identity: the bench publishes the documents as it. */
  service: { username: string; password: string };
  /** Creates the devices' credentials; device id → secret. */
  enroll(ids: readonly string[]): Promise<Map<string, string>>;
  /** Broker memory; heapUsedBytes after a full GC where the broker is a Node process, else null. */
  memory(): Promise<{ rssBytes: number; heapUsedBytes: number | null }>;
  /** Resolves once every device's document sits in its offline queue. */
  waitQueued(ids: readonly string[]): Promise<void>;
  /** Redis counters where the target has a Redis, else null. */
  redis(): Promise<RedisSnapshot | null>;
  output(): string;
  stop(): Promise<void>;
}
