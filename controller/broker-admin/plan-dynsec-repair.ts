import { isDeviceId } from '../../shared/device-id.js';
import { DEVICE_ROLE_PREFIX, deviceRoleName } from './dynsec-acl.js';
import type { DynsecAcl } from './dynsec-schemas.js';

/** What Mosquitto holds: its clients with their roles, and the role names. */
export interface DynsecObserved {
  readonly clients: readonly { username: string; roles: readonly string[] }[];
  readonly roles: readonly string[];
  /** Each role's ACLs as aclKey strings, when they were listed (a full pass); absent: ACLs not compared. */
  readonly roleAcls?: ReadonlyMap<string, readonly string[]>;
}

/** One ACL as a comparable string: type, allow and topic (the priority Outpost never sets is left out). */
export function aclKey(acl: { acltype: string; topic: string; allow: boolean }): string {
  return `${acl.acltype} ${acl.allow ? 'allow' : 'deny'} ${acl.topic}`;
}

/** What the registry says. */
export interface RegistryCredentials {
  /** Devices with a credential record: they may connect. */
  readonly entitled: ReadonlySet<string>;
  /** Secrets written with their record and not applied yet. */
  readonly pending: ReadonlyMap<string, string>;
}

export type DynsecStep =
  /** Role, then client (no password when the secret is not known any more: certificate login only). */
  | { kind: 'create'; deviceId: string; secret: string | null }
  | { kind: 'set-password'; deviceId: string; secret: string }
  | { kind: 'delete'; deviceId: string }
  | { kind: 'delete-role'; deviceId: string }
  /** A role made by an older controller lacks rules this one grants (e.g. the clock topic, DD-052). */
  | { kind: 'add-acls'; deviceId: string; acls: DynsecAcl[] }
  | { kind: 'discard-pending'; deviceId: string };

/** A client Outpost manages: a device id with the device role of its own name. */
export function isManagedClient(c: { username: string; roles: readonly string[] }): boolean {
  return isDeviceId(c.username) && c.roles.includes(deviceRoleName(c.username));
}

/**
 * Level-based repair (style rule 3, DD-021): compares every managed client
 * with the registry and returns the steps that make them agree, whatever
 * crash or outage left them apart. Pure; clients that are not Outpost's
 * (no device role of their own name: the admin, the service identity, an
 * operator's own) are never touched. With the roles' ACLs observed and the
 * rules this controller grants (`deviceAcls`), a managed device's role that
 * lacks some of them gets them added (DD-060): a fleet enrolled by an older
 * controller gains the topics of a newer protocol. Rules a role has beyond
 * those are left alone.
 */
export function planDynsecRepair(observed: DynsecObserved, registry: RegistryCredentials, deviceAcls?: (deviceId: string) => DynsecAcl[]): DynsecStep[] {
  const managed = new Set(observed.clients.filter(isManagedClient).map((c) => c.username));
  const steps: DynsecStep[] = [];
  for (const id of [...registry.entitled].sort()) {
    const secret = registry.pending.get(id) ?? null;
    if (!managed.has(id)) steps.push({ kind: 'create', deviceId: id, secret });
    else if (secret !== null) steps.push({ kind: 'set-password', deviceId: id, secret });
    const held = managed.has(id) ? observed.roleAcls?.get(deviceRoleName(id)) : undefined;
    if (held && deviceAcls) {
      const have = new Set(held);
      const missing = deviceAcls(id).filter((acl) => !have.has(aclKey(acl)));
      if (missing.length > 0) steps.push({ kind: 'add-acls', deviceId: id, acls: missing });
    }
  }
  for (const id of [...managed].sort()) if (!registry.entitled.has(id)) steps.push({ kind: 'delete', deviceId: id });
  for (const role of [...observed.roles].sort()) {
    const id = role.startsWith(DEVICE_ROLE_PREFIX) ? role.slice(DEVICE_ROLE_PREFIX.length) : null;
    if (id !== null && isDeviceId(id) && !registry.entitled.has(id) && !managed.has(id)) steps.push({ kind: 'delete-role', deviceId: id });
  }
  for (const id of [...registry.pending.keys()].sort()) if (!registry.entitled.has(id)) steps.push({ kind: 'discard-pending', deviceId: id });
  return steps;
}
