import { z } from 'zod';
import { isDeviceId, type DeviceId } from './device-id.js';

/**
 * Every topic string in Outpost is built and parsed here, and broker
 * authorization uses the same helpers (style rule 7).
 */
export const DEFAULT_TOPIC_PREFIX = 'outpost/v1';

export const DEVICE_CHANNELS = ['desired', 'reported', 'presence', 'events', 'commands', 'telemetry', 'clock'] as const;
export type DeviceChannel = (typeof DEVICE_CHANNELS)[number];

/** A prefix is 1-4 plain levels: no wildcards, no `$`, no empty levels. */
export const TopicPrefix = z
  .string()
  .regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_.-]+){0,3}$/, 'topic prefix must be 1-4 levels of [A-Za-z0-9_.-], e.g. outpost/v1');

export interface DeviceTopic {
  deviceId: DeviceId;
  channel: DeviceChannel;
}

export class Topics {
  readonly prefix: string;
  private readonly devicesRoot: string;

  constructor(prefix: string = DEFAULT_TOPIC_PREFIX) {
    this.prefix = TopicPrefix.parse(prefix);
    this.devicesRoot = `${this.prefix}/devices/`;
  }

  device(deviceId: DeviceId, channel: DeviceChannel): string {
    if (!isDeviceId(deviceId)) throw new TypeError(`invalid device id: ${JSON.stringify(deviceId)}`);
    return `${this.devicesRoot}${deviceId}/${channel}`;
  }

  desired(deviceId: DeviceId): string {
    return this.device(deviceId, 'desired');
  }
  reported(deviceId: DeviceId): string {
    return this.device(deviceId, 'reported');
  }
  presence(deviceId: DeviceId): string {
    return this.device(deviceId, 'presence');
  }
  events(deviceId: DeviceId): string {
    return this.device(deviceId, 'events');
  }
  commands(deviceId: DeviceId): string {
    return this.device(deviceId, 'commands');
  }
  telemetry(deviceId: DeviceId): string {
    return this.device(deviceId, 'telemetry');
  }
  /** The controller's clock for one device (DD-052): QoS 0, not retained. */
  clock(deviceId: DeviceId): string {
    return this.device(deviceId, 'clock');
  }

  /** Wildcard subscription for one channel of every device (service identities only). */
  allDevices(channel: DeviceChannel): string {
    return `${this.devicesRoot}+/${channel}`;
  }

  /**
   * The controller's retained marker (anti-entropy, DD-031): its token and the
   * registry generation it last saw; its absence means the broker lost its
   * retained store. Only service identities publish or read it.
   */
  controllerMarker(): string {
    return `${this.prefix}/controller/retained-marker`;
  }

  /** Rollout status topic (controller → integrations). */
  rolloutStatus(rolloutId: string): string {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(rolloutId)) throw new TypeError(`invalid rollout id: ${JSON.stringify(rolloutId)}`);
    return `${this.prefix}/rollouts/${rolloutId}/status`;
  }

  /** The rollout id of an exact rolloutStatus topic; null for anything else. */
  parseRolloutStatus(topic: string): string | null {
    const root = `${this.prefix}/rollouts/`;
    if (typeof topic !== 'string' || !topic.startsWith(root) || !topic.endsWith('/status')) return null;
    const id = topic.slice(root.length, -'/status'.length);
    return /^[A-Za-z0-9_-]{1,64}$/.test(id) ? id : null;
  }

  /**
   * Parse an exact device topic. Returns null for anything else: wildcards,
   * other prefixes, extra or missing levels, invalid device ids, unknown channels.
   */
  parseDevice(topic: string): DeviceTopic | null {
    if (typeof topic !== 'string' || !topic.startsWith(this.devicesRoot)) return null;
    const rest = topic.slice(this.devicesRoot.length);
    const slash = rest.indexOf('/');
    if (slash <= 0) return null;
    const deviceId = rest.slice(0, slash);
    const channel = rest.slice(slash + 1);
    if (!isDeviceId(deviceId)) return null;
    if (!(DEVICE_CHANNELS as readonly string[]).includes(channel)) return null;
    return { deviceId, channel: channel as DeviceChannel };
  }

  /** True when the topic (or filter) is inside this prefix. */
  isUnderPrefix(topic: string): boolean {
    return topic === this.prefix || topic.startsWith(`${this.prefix}/`);
  }
}

/** True if the string contains an MQTT wildcard level. */
export function hasWildcard(topic: string): boolean {
  return topic.includes('+') || topic.includes('#');
}
