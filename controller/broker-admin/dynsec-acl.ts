import type { DeviceChannel, Topics } from '../../shared/topics.js';
import type { DynsecAcl, DynsecCommand } from './dynsec-schemas.js';

/**
 * The access rules of docs/protocol.md §5 as dynamic-security roles, built
 * from the same topic helpers as the Outpost broker's AccessPolicy
 * (broker/auth/access-policy.ts, style rule 7). Pure.
 *
 * A device gets one role of its own: PUBLISH only its own reported,
 * presence, events and telemetry topics; SUBSCRIBE only the exact filters
 * of its own desired, commands and clock topics (`subscribeLiteral` compares
 * the filter as a string, so `+`/`#` never match); and RECEIVE only those
 * three topics (checked on every delivery, also from the offline queue). Everything
 * else falls to the default access the controller sets: deny.
 */

/** Channels a device may publish on, for its own id only (same list as the Outpost broker). */
export const DEVICE_PUBLISH_CHANNELS: readonly DeviceChannel[] = ['reported', 'presence', 'events', 'telemetry'];
/** Channels a device may subscribe to and receive, for its own id only. */
export const DEVICE_RECEIVE_CHANNELS: readonly DeviceChannel[] = ['desired', 'commands', 'clock'];

/** Prefix of the per-device role names; a managed client has the role `<prefix><its username>`. */
export const DEVICE_ROLE_PREFIX = 'outpost-device:';
export const SERVICE_ROLE = 'outpost-service';

export function deviceRoleName(deviceId: string): string {
  return `${DEVICE_ROLE_PREFIX}${deviceId}`;
}

export function deviceAcls(topics: Topics, deviceId: string): DynsecAcl[] {
  const send = DEVICE_PUBLISH_CHANNELS.map((c): DynsecAcl => ({ acltype: 'publishClientSend', topic: topics.device(deviceId, c), allow: true }));
  const sub = DEVICE_RECEIVE_CHANNELS.map((c): DynsecAcl => ({ acltype: 'subscribeLiteral', topic: topics.device(deviceId, c), allow: true }));
  const receive = DEVICE_RECEIVE_CHANNELS.map((c): DynsecAcl => ({ acltype: 'publishClientReceive', topic: topics.device(deviceId, c), allow: true }));
  const unsub = DEVICE_RECEIVE_CHANNELS.map((c): DynsecAcl => ({ acltype: 'unsubscribeLiteral', topic: topics.device(deviceId, c), allow: true }));
  return [...send, ...sub, ...receive, ...unsub];
}

/** The service identity: anything below the prefix, wildcards allowed (§5). */
export function serviceAcls(topics: Topics): DynsecAcl[] {
  const all = `${topics.prefix}/#`;
  return [
    { acltype: 'publishClientSend', topic: all, allow: true },
    { acltype: 'publishClientReceive', topic: all, allow: true },
    { acltype: 'subscribePattern', topic: all, allow: true },
    { acltype: 'unsubscribePattern', topic: all, allow: true },
  ];
}

/**
 * Default access for everyone without a matching ACL: nothing. Mosquitto's
 * own default lets every client receive everything its subscriptions match;
 * a device's role already limits what it may subscribe to, this also stops
 * delivery of anything else (as the Outpost broker's authorizeForward does).
 */
export function denyByDefault(): DynsecCommand {
  return {
    command: 'setDefaultACLAccess',
    acls: [
      { acltype: 'publishClientSend', allow: false },
      { acltype: 'publishClientReceive', allow: false },
      { acltype: 'subscribe', allow: false },
      { acltype: 'unsubscribe', allow: false },
    ],
  };
}

