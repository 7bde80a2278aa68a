import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The files the dashboard is made of; anything else under /ui/ is a 404. */
export const DASHBOARD_FILES = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
} as const;
export type DashboardFile = keyof typeof DASHBOARD_FILES;

export type DashboardAssets = { ok: true; files: Record<DashboardFile, Buffer> } | { ok: false; reason: string };

/**
 * Where `npm run build` puts the dashboard (scripts/bundle-dashboard.ts):
 * dist/dashboard beside dist/controller. Run from the TypeScript sources
 * (tests under vitest) this module sits in controller/dashboard, so the
 * built copy is looked for in dist/dashboard as well.
 */
export function defaultDashboardDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const candidates = [join(here, '..', '..', 'dashboard'), join(here, '..', '..', 'dist', 'dashboard')];
  return candidates.find((dir) => existsSync(join(dir, 'app.js'))) ?? candidates[0] ?? here;
}

/** Read once at start: three small files, served from memory. */
export function loadDashboardAssets(dir: string): DashboardAssets {
  const files: Partial<Record<DashboardFile, Buffer>> = {};
  for (const name of Object.keys(DASHBOARD_FILES) as DashboardFile[]) {
    const path = join(dir, name);
    if (!existsSync(path)) return { ok: false, reason: `${path} is missing; run npm run build` };
    files[name] = readFileSync(path);
  }
  return { ok: true, files: files as Record<DashboardFile, Buffer> };
}
