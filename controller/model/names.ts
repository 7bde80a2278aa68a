import { z } from 'zod';

/**
 * App names and release versions. A device's desired workload is named
 * `<app>-<workload>`, so an app name (≤ 31) and a workload name inside a
 * release (≤ 31) always fit the 63-character workload grammar.
 */
export const AppName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,30}$/, 'app names: 1-31 chars of a-z 0-9 -, starting with a letter or digit');
export const ReleaseVersion = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/, 'release versions: 1-64 chars of A-Z a-z 0-9 . _ + -, e.g. 1.4.2');
export const ReleaseWorkloadName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,30}$/, 'workload names in a release: 1-31 chars of a-z 0-9 _ -');
export const DeploymentId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'deployment ids: 1-64 chars of a-z 0-9 -');

/** `app@version`, the way releases are named everywhere. */
export function releaseRef(app: string, version: string): string {
  return `${app}@${version}`;
}

export function parseReleaseRef(ref: string): { app: string; version: string } | null {
  const at = ref.indexOf('@');
  if (at <= 0) return null;
  const app = AppName.safeParse(ref.slice(0, at));
  const version = ReleaseVersion.safeParse(ref.slice(at + 1));
  return app.success && version.success ? { app: app.data, version: version.data } : null;
}

/** The name a release workload gets in a device's desired state. */
export function deviceWorkloadName(app: string, workload: string): string {
  return `${app}-${workload}`;
}
