import { posix } from 'node:path';
import type { HostFs } from '../../agent/policy/host-fs.js';

/**
 * One path of a fake host: a directory or file, a symlink (`link`, absolute or
 * relative as written), or another name for an existing path (`sameAs`: a
 * hard link or a bind mount; a directory alias exposes everything below it).
 */
export type FakeEntry = 'dir' | 'file' | { link: string } | { sameAs: string };

function within(child: string, parent: string): boolean {
  return parent === '/' || child === parent || child.startsWith(`${parent}/`);
}

function fsError(code: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${path}`), { code });
}

/**
 * A table of paths as a HostFs, for policy tests: parents of every entry
 * exist as directories; realpath follows symlinks component by component
 * like the kernel (ELOOP after 40); identity is shared by `sameAs` aliases.
 */
export function fakeHostFs(entries: Record<string, FakeEntry>): HostFs {
  const table = new Map(Object.entries(entries).map(([p, e]) => [posix.resolve(p), e]));
  const aliases = [...table].flatMap(([p, e]) => (typeof e === 'object' && 'sameAs' in e ? [[p, posix.resolve(e.sameAs)] as const] : []));

  /** Where an alias really points: the path whose identity (and existence) counts. */
  const underlying = (path: string): string => {
    for (const [alias, target] of aliases) {
      if (within(path, alias)) return underlying(target + path.slice(alias.length));
    }
    return path;
  };
  const existsPlain = (path: string): boolean => path === '/' || [...table.keys()].some((p) => within(p, path));
  const exists = (path: string): boolean => existsPlain(path) || existsPlain(underlying(path));
  const linkOf = (path: string): string | null => {
    const e = table.get(path);
    return typeof e === 'object' && 'link' in e ? e.link : null;
  };

  const realpath = (path: string, depth = 0): string | null => {
    if (depth > 40) throw fsError('ELOOP', path);
    let at = '/';
    const parts = posix.resolve(path).split('/').filter(Boolean);
    for (let i = 0; i < parts.length; i++) {
      const next = posix.join(at, parts[i] ?? '');
      const link = linkOf(next);
      if (link !== null) {
        const target = realpath(posix.resolve(at, link), depth + 1);
        if (target === null) return null;
        at = target;
        continue;
      }
      if (!exists(next)) return null;
      at = next;
    }
    return at;
  };

  return {
    realpath: (path) => realpath(path),
    identity(path) {
      const real = realpath(path);
      return real === null ? null : `id:${underlying(real)}`;
    },
    linkTarget(path) {
      const resolved = posix.resolve(path);
      const parent = realpath(posix.dirname(resolved));
      return parent === null ? null : linkOf(posix.join(parent, posix.basename(resolved)));
    },
  };
}
