import { posix } from 'node:path';
import { errorMessage } from '../../shared/errors.js';
import type { DevicePolicy } from './device-policy.js';
import type { HostFs } from './host-fs.js';

/** A path as the host resolves it. */
export interface HostPath {
  /** Every symlink resolved; for a missing path, its nearest existing ancestor resolved and the rest appended. */
  path: string;
  exists: boolean;
}

interface ForbiddenView {
  what: string;
  /** As configured and as resolved (e.g. /var/run/docker.sock and /run/docker.sock). */
  paths: string[];
  /** dev:ino of the path itself (null when absent on this host). */
  id: string | null;
  /** dev:ino of every directory above it except `/`: a bind of any of them (by whatever name) exposes it. */
  containerIds: ReadonlySet<string>;
}

/** The policy's paths as this host resolves them, computed once per check. */
export interface HostView {
  roots: string[];
  forbidden: ForbiddenView[];
}

export type BindVerdict = { ok: true; source: string } | { ok: false; reason: string };

const MAX_LINKS = 40;

/**
 * Resolve like the kernel would when Docker mounts the path. A path that does
 * not exist (yet) is judged by where it would be, a dangling symlink on the
 * way followed to where it points: Docker refuses a missing bind source at
 * create (the agent uses the Mounts API, which never creates host
 * directories), and the check runs again right before every create, when it
 * may exist.
 */
export function resolveOnHost(path: string, fs: HostFs, links = 0): HostPath {
  if (links > MAX_LINKS) throw new Error(`too many levels of symbolic links: ${path}`);
  const literal = posix.resolve(path);
  const real = fs.realpath(literal);
  if (real !== null) return { path: real, exists: true };
  const parts = literal.split('/').filter(Boolean);
  let at = '/';
  for (let i = 0; i < parts.length; i++) {
    const next = posix.join(at, parts[i] ?? '');
    const resolved = fs.realpath(next);
    if (resolved !== null) {
      at = resolved;
      continue;
    }
    const link = fs.linkTarget(next);
    if (link !== null) return resolveOnHost(posix.join(posix.resolve(at, link), ...parts.slice(i + 1)), fs, links + 1);
    return { path: posix.join(next, ...parts.slice(i + 1)), exists: false };
  }
  return { path: at, exists: true };
}

/** `child` is `parent` or below it (whole path segments). */
export function within(child: string, parent: string): boolean {
  return parent === '/' || child === parent || child.startsWith(`${parent}/`);
}

/** Directories above `path`, nearest first, without `/`. */
function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let at = posix.dirname(path); at !== '/'; at = posix.dirname(at)) out.push(at);
  return out;
}

export function viewHost(policy: DevicePolicy, fs: HostFs): HostView {
  const roots: string[] = [];
  for (const root of policy.allowedHostPaths) {
    try {
      roots.push(resolveOnHost(root, fs).path);
    } catch {
      // An allowed root the agent cannot resolve allows nothing.
    }
  }
  const forbidden = policy.forbiddenPaths.map((f): ForbiddenView => {
    const literal = posix.resolve(f.path);
    try {
      const resolved = resolveOnHost(literal, fs);
      const containerIds = new Set<string>();
      for (const dir of ancestors(resolved.path)) {
        const id = fs.identity(dir);
        if (id !== null) containerIds.add(id);
      }
      return {
        what: f.what,
        paths: [...new Set([literal, resolved.path])],
        id: resolved.exists ? fs.identity(resolved.path) : null,
        containerIds,
      };
    } catch {
      return { what: f.what, paths: [literal], id: null, containerIds: new Set() };
    }
  });
  return { roots, forbidden };
}

/**
 * May `source` be bind-mounted? Refused when, after resolving symlinks, it is
 * outside every allowed root (a symlink escaping its root), or when it is,
 * contains or lies inside a forbidden path — compared by path and by
 * device+inode, so another name for the same file or directory (a hard link,
 * a bind mount, the socket's parent directory) is caught too. A forbidden
 * path is waived only for sources inside an allowed root that itself lies
 * inside that forbidden path: the operator named it explicitly.
 * Returns the resolved path: that, not the requested name, goes to Docker.
 */
export function checkBindSource(source: string, policy: DevicePolicy, view: HostView, fs: HostFs): BindVerdict {
  const literal = posix.resolve(source);
  let resolved: HostPath;
  let id: string | null = null;
  const aboveIds = new Set<string>();
  try {
    resolved = resolveOnHost(literal, fs);
    if (resolved.exists) id = fs.identity(resolved.path);
    for (const dir of ancestors(resolved.path)) {
      const dirId = fs.identity(dir);
      if (dirId !== null) aboveIds.add(dirId);
    }
  } catch (err) {
    return { ok: false, reason: `bind mount source ${source} cannot be resolved on this device: ${errorMessage(err)}` };
  }
  const shown = resolved.path === literal ? source : `${source} (resolves to ${resolved.path})`;
  const roots = view.roots.filter((root) => within(resolved.path, root));
  for (const f of view.forbidden) {
    if (roots.some((root) => f.paths.some((p) => within(root, p)))) continue;
    const byPath = f.paths.some(
      (p) => within(resolved.path, p) || within(p, resolved.path) || within(literal, p) || within(p, literal),
    );
    const byIdentity = (id !== null && (id === f.id || f.containerIds.has(id))) || (f.id !== null && aboveIds.has(f.id));
    if (byPath || byIdentity) return { ok: false, reason: `bind mount of ${shown} would expose ${f.what}` };
  }
  if (roots.length === 0) {
    const allowed = policy.allowedHostPaths.length ? policy.allowedHostPaths.join(', ') : 'none configured';
    return { ok: false, reason: `bind mount source ${shown} is outside the host paths this device allows (${allowed})` };
  }
  return { ok: true, source: resolved.path };
}
