import type { Provenance } from '../../shared/schemas/desired-state.js';
import type { DevicePolicy } from './device-policy.js';

/** Prefix of every namespaced volume; requested names may not start with it (or look like they do). */
export const VOLUME_PREFIX = 'outpost.';
const RESERVED = /^outpost[._-]/i;
/** controller/model/names.ts AppName. */
const APP_NAME = /^[a-z0-9][a-z0-9-]{0,30}$/;

/**
 * The app a workload belongs to, whose volumes it may share: the controller
 * names device workloads `<app>-<workload>` and records `app@version` in the
 * provenance (app and workload names may both contain `-`, so the name alone
 * is ambiguous). Without a matching provenance the workload is its own app.
 */
export function volumeNamespace(workload: string, provenance: Provenance | undefined): string {
  const release = provenance?.release ?? '';
  const app = release.slice(0, Math.max(0, release.indexOf('@')));
  return APP_NAME.test(app) && workload.startsWith(`${app}-`) ? app : workload;
}

/** `outpost.<app>.<name>`: neither app nor workload names contain `.`, so no two apps ever meet. */
export function namespacedVolume(namespace: string, name: string): string {
  return `${VOLUME_PREFIX}${namespace}.${name}`;
}

export type VolumeVerdict = { ok: true; dockerName: string; namespace: string | null } | { ok: false; reason: string };

/** The Docker volume a requested name maps to on this device, or why it is refused. */
export function checkVolumeName(name: string, namespace: string, policy: DevicePolicy): VolumeVerdict {
  if (policy.allowedVolumes.includes(name)) return { ok: true, dockerName: name, namespace: null };
  if (RESERVED.test(name)) {
    return {
      ok: false,
      reason: `named volume ${name} is refused: names starting with "outpost" are reserved for the agent and for other apps' volumes (allow it on the device with --allow-volume ${name})`,
    };
  }
  return { ok: true, dockerName: namespacedVolume(namespace, name), namespace };
}
