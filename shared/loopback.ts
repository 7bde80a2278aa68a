import { isIPv4, isIPv6 } from 'node:net';

/**
 * True when traffic to `host` cannot leave the machine: 127.0.0.0/8, ::1
 * (also as an IPv4-mapped address) and the name `localhost`. Any other name
 * counts as remote, even one that happens to resolve to loopback: the check
 * runs before any lookup, so nothing crosses the network to find out.
 * `host` may be a URL's hostname, IPv6 in brackets included.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  if (h === 'localhost') return true;
  if (isIPv4(h)) return h.startsWith('127.');
  if (isIPv6(h)) {
    if (h === '::1' || /^0*(:0*){6}:0*1$/.test(h)) return true;
    // IPv4-mapped, dotted (::ffff:127.0.0.1) or as WHATWG URLs write it (::ffff:7f00:1).
    const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    if (dotted?.[1] !== undefined) return dotted[1].startsWith('127.');
    return /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(h);
  }
  return false;
}

/** The host of a URL like `mqtt://host:1883` or `http://[::1]:8080`; undefined when it is not a URL. */
export function urlHost(url: string): string | undefined {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}
