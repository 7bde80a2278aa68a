import { describe } from './format.js';
import { isRecord, type Issues, type Json } from './types.js';

function portRange(text: string): number[] | null {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text.trim());
  if (!m) return null;
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  if (to < from || to - from >= 1024) return null;
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Compose short syntax `[ip:]host:container[/proto]` (ranges allowed) or the long form. */
export function portMappings(value: unknown, here: string, issues: Issues): Json[] {
  if (isRecord(value)) return [longPort(value, here, issues)];
  if (typeof value === 'number') {
    issues.push(`${here}: ${value} has no host port; Outpost publishes explicit host ports only, e.g. "8080:${value}"`);
    return [];
  }
  if (typeof value !== 'string') {
    issues.push(`${here}: expected "host:container" or a map with target and published, got ${describe(value)}`);
    return [];
  }
  let rest = value.trim();
  let protocol: string | undefined;
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    protocol = rest.slice(slash + 1);
    rest = rest.slice(0, slash);
  }
  let hostIp: string | undefined;
  const bracket = /^\[([^\]]+)\]:(.*)$/.exec(rest);
  if (bracket) {
    hostIp = bracket[1];
    rest = bracket[2] ?? '';
  }
  const parts = rest.split(':');
  if (!hostIp && parts.length > 2) hostIp = parts.splice(0, parts.length - 2).join(':');
  if (parts.length < 2 || parts[0] === '') {
    issues.push(`${here}: "${value}" has no host port; Outpost publishes explicit host ports only, e.g. "8080:80"`);
    return [];
  }
  const hosts = portRange(parts[0] ?? '');
  const containers = portRange(parts[1] ?? '');
  if (!hosts || !containers || hosts.length !== containers.length) {
    issues.push(`${here}: "${value}" is not [ip:]host:container[/tcp|udp] with ports or equal-sized ranges`);
    return [];
  }
  return containers.map((container, i) => ({
    container,
    host: hosts[i],
    ...(protocol !== undefined ? { protocol } : {}),
    ...(hostIp !== undefined ? { hostIp } : {}),
  }));
}

const PORT_KEYS: Record<string, string> = { target: 'container', container: 'container', published: 'host', host: 'host', protocol: 'protocol', host_ip: 'hostIp', hostIp: 'hostIp' };

function longPort(value: Json, here: string, issues: Issues): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(value)) {
    const field = PORT_KEYS[k];
    if (!field) issues.push(`${here}.${k}: not supported in a port (use target, published, protocol, host_ip)`);
    else out[field] = (field === 'container' || field === 'host') && typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  }
  if (out.host === undefined) issues.push(`${here}: needs published (the host port); Outpost publishes explicit host ports only`);
  return out;
}
