import type { DevicePolicy } from './device-policy.js';

/**
 * What every container keeps after CapDrop ALL (DD-024): enough to start as
 * root and drop to a service user (CHOWN, DAC_OVERRIDE, FOWNER, FSETID,
 * SETGID, SETUID), signal its children (KILL) and listen below port 1024
 * (NET_BIND_SERVICE). Docker's default set also has NET_RAW (raw packets:
 * spoofing on the device's LAN), MKNOD, SETFCAP, SETPCAP, SYS_CHROOT and
 * AUDIT_WRITE; a workload that needs one asks for it and the device must allow it.
 */
export const DEFAULT_CAPABILITIES: readonly string[] = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'NET_BIND_SERVICE', 'SETGID', 'SETUID'];

export type CapabilityVerdict = { ok: true; capAdd: string[] } | { ok: false; reason: string };

/** The capabilities a container gets: the default set plus those it asks for, if the device allows them. */
export function grantCapabilities(requested: readonly string[] | undefined, policy: DevicePolicy): CapabilityVerdict {
  const asked = [...new Set(requested ?? [])];
  const refused = asked.filter((c) => !DEFAULT_CAPABILITIES.includes(c) && !policy.allowedCapabilities.includes(c));
  if (refused.length > 0) {
    const allowed = policy.allowedCapabilities.length ? policy.allowedCapabilities.join(', ') : 'none';
    return {
      ok: false,
      reason: `capabilities ${refused.join(', ')} are not allowed on this device (allowed beyond the default set: ${allowed}; --allow-capability)`,
    };
  }
  return { ok: true, capAdd: [...new Set([...DEFAULT_CAPABILITIES, ...asked])].sort() };
}
