import type { ErrorCode } from '../../shared/errors.js';
import { hasWildcard, type DeviceChannel, type Topics } from '../../shared/topics.js';
import type { Identity } from './identity.js';

/** Channels a device may publish on, for its own id only. */
export const DEVICE_PUBLISH_CHANNELS: readonly DeviceChannel[] = ['reported', 'presence', 'events', 'telemetry'];
/** Channels a device may subscribe to and receive, for its own id only. */
export const DEVICE_RECEIVE_CHANNELS: readonly DeviceChannel[] = ['desired', 'commands', 'clock'];

const SYS_PREFIX = '$SYS';

/**
 * Highest QoS any client may send (PUBLISH and will). The protocol uses QoS 1
 * at most, and aedes stores every inbound QoS 2 PUBLISH in Redis until its
 * PUBREL, without expiry and with an in-flight cap that resets on every
 * reconnect: one credential could fill Redis (DD-020). No QoS 2 message ever
 * enters the broker, so none is ever sent either.
 */
export const MAX_INBOUND_QOS = 1;

export interface PolicyLimits {
  readonly maxTopicBytes: number;
  readonly maxTopicLevels: number;
  readonly maxPayloadBytes: number;
}

export type Decision = { ok: true } | { ok: false; code: ErrorCode; reason: string };

const ALLOW: Decision = Object.freeze({ ok: true });
function deny(reason: string, code: ErrorCode = 'AUTH_FORBIDDEN_TOPIC'): Decision {
  return { ok: false, code, reason };
}

/**
 * Every access rule of the broker, pure: (identity, topic) → decision. The
 * aedes handlers only adapt callbacks and log. Topics are read exclusively
 * through `Topics` (style rule 7), so a device rule can only ever match an
 * exact, fully valid device topic: wildcards, extra levels and foreign
 * prefixes all parse to null and are denied.
 */
export class AccessPolicy {
  readonly #topics: Topics;
  readonly #limits: PolicyLimits;

  constructor(topics: Topics, limits: PolicyLimits) {
    this.#topics = topics;
    this.#limits = limits;
  }

  /** Why a topic or filter is refused for everyone, or null if it is sane. */
  absurdity(topic: string): string | null {
    if (typeof topic !== 'string' || topic.length === 0) return 'empty topic';
    if (topic.includes('\u0000')) return 'topic contains NUL'; // [MQTT-1.5.3-2]
    const bytes = Buffer.byteLength(topic, 'utf8');
    if (bytes > this.#limits.maxTopicBytes) return `topic is ${bytes} bytes, limit ${this.#limits.maxTopicBytes}`;
    const levels = topic.split('/').length;
    if (levels > this.#limits.maxTopicLevels) return `topic has ${levels} levels, limit ${this.#limits.maxTopicLevels}`;
    return null;
  }

  /** A PUBLISH from a connected, authenticated client (its live will included). */
  publish(identity: Identity | undefined, topic: string, payloadBytes: number, qos = 0): Decision {
    const common = this.#common(topic, payloadBytes, qos);
    if (!common.ok) return common;
    if (!identity) return deny('client is not authenticated', 'AUTH_BAD_CREDENTIALS');
    if (identity.kind === 'service') return this.#serviceTopic(topic);
    return this.#ownDeviceTopic(identity.deviceId, topic, DEVICE_PUBLISH_CHANNELS);
  }

  /**
   * The will in a CONNECT. A device may only leave its own presence topic
   * behind: anything else would let it publish, after its death, what it may
   * not publish alive (or impersonate another device's presence).
   */
  will(identity: Identity, topic: string, payloadBytes: number, qos = 0): Decision {
    const common = this.#common(topic, payloadBytes, qos);
    if (!common.ok) return common;
    if (identity.kind === 'service') return this.#serviceTopic(topic);
    return this.#ownDeviceTopic(identity.deviceId, topic, ['presence']);
  }

  /**
   * A will aedes publishes for a client that is no longer connected anywhere
   * (the broker that held it died): only presence topics, whoever left it.
   * Its QoS is not checked: it was accepted at CONNECT, and a refusal here
   * would abort aedes's whole will sweep (aedes.js _clearWills) on every run.
   */
  orphanWill(topic: string, payloadBytes: number): Decision {
    const common = this.#common(topic, payloadBytes);
    if (!common.ok) return common;
    const parsed = this.#topics.parseDevice(topic);
    return parsed?.channel === 'presence' ? ALLOW : deny('orphaned will is not a presence topic');
  }

  /** A SUBSCRIBE filter. Devices: exact own desired/commands only; the service: anything under the prefix. */
  subscribe(identity: Identity | undefined, filter: string): Decision {
    const absurd = this.absurdity(filter);
    if (absurd) return deny(absurd);
    if (filter.startsWith(SYS_PREFIX)) return deny('$SYS is not available');
    if (!identity) return deny('client is not authenticated', 'AUTH_BAD_CREDENTIALS');
    if (identity.kind === 'service') return this.#serviceTopic(filter);
    if (hasWildcard(filter)) return deny('devices may not use wildcards');
    return this.#ownDeviceTopic(identity.deviceId, filter, DEVICE_RECEIVE_CHANNELS);
  }

  /**
   * Whether a message on `topic` may be written to this client. Checked by
   * aedes on live delivery, on retained delivery and on the offline queue,
   * so it also stops messages matched by a subscription that should never
   * have been persisted (the mixed-SUBSCRIBE leak in pitfalls.md).
   */
  receive(identity: Identity | undefined, topic: string): boolean {
    if (!identity || typeof topic !== 'string' || topic.startsWith(SYS_PREFIX)) return false;
    if (identity.kind === 'service') return this.#topics.isUnderPrefix(topic);
    return this.#ownDeviceTopic(identity.deviceId, topic, DEVICE_RECEIVE_CHANNELS).ok;
  }

  #common(topic: string, payloadBytes: number, qos = 0): Decision {
    const absurd = this.absurdity(topic);
    if (absurd) return deny(absurd);
    if (topic.startsWith(SYS_PREFIX)) return deny('$SYS is reserved for the broker');
    if (payloadBytes > this.#limits.maxPayloadBytes) {
      return deny(`payload is ${payloadBytes} bytes, limit ${this.#limits.maxPayloadBytes}`, 'PAYLOAD_TOO_LARGE');
    }
    if (qos > MAX_INBOUND_QOS) return deny(`QoS ${qos} is not used by the protocol`, 'QOS_NOT_ALLOWED');
    return ALLOW;
  }

  #serviceTopic(topic: string): Decision {
    return this.#topics.isUnderPrefix(topic) ? ALLOW : deny(`outside ${this.#topics.prefix}`);
  }

  #ownDeviceTopic(deviceId: string, topic: string, channels: readonly DeviceChannel[]): Decision {
    const parsed = this.#topics.parseDevice(topic);
    if (!parsed) return deny('not an exact device topic');
    if (parsed.deviceId !== deviceId) return deny('topic of another device');
    if (!channels.includes(parsed.channel)) return deny(`channel ${parsed.channel} not permitted`);
    return ALLOW;
  }
}
