import { isScalar as isYamlScalar, parseDocument } from 'yaml';
import type { z } from 'zod';
import { ReleaseInput } from '../controller/model/release.js';

/**
 * Release files: `app`, `version` and `workloads:` (or compose's `services:`)
 * with compose-like fields, turned into a `ReleaseInput`. Pure: the caller
 * reads the file. Compose keys Outpost cannot honour are errors, never
 * silently dropped, so a release never runs differently from what it says.
 */
export class ReleaseFileError extends Error {
  constructor(
    readonly issues: readonly string[],
    source = 'release file',
  ) {
    super(`invalid ${source}: ${issues.join('; ')}`);
    this.name = 'ReleaseFileError';
  }
}

type Path = readonly (string | number)[];
type Json = Record<string, unknown>;
type Issues = string[];

export function formatPath(path: Path): string {
  return path.reduce<string>((out, part) => (typeof part === 'number' ? `${out}[${part}]` : out ? `${out}.${part}` : part), '');
}

const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: unknown): v is string | number | boolean => ['string', 'number', 'boolean'].includes(typeof v);
const describe = (v: unknown): string =>
  v === null || v === undefined ? 'nothing' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a map' : JSON.stringify(v);

/** Parses the text of a release file; `filename` picks JSON or YAML by extension, else the content decides. */
export function parseReleaseFile(text: string, filename = 'release file'): ReleaseInput {
  const json = /\.json$/i.test(filename) || (!/\.ya?ml$/i.test(filename) && text.trimStart().startsWith('{'));
  let doc: unknown;
  if (json) {
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new ReleaseFileError([`not valid JSON: ${err instanceof Error ? err.message : String(err)}`], filename);
    }
  } else {
    const parsed = parseDocument(text, { merge: true, prettyErrors: true });
    const first = parsed.errors[0];
    if (first) throw new ReleaseFileError([`not valid YAML: ${(first.message.split('\n')[0] ?? '').replace(/:$/, '')}`], filename);
    doc = parsed.toJS({ maxAliasCount: 1000 });
    // `version: 1.10` is a YAML float; the release version is the text as written.
    const version = parsed.get('version', true);
    if (isRecord(doc) && typeof doc.version === 'number' && isYamlScalar(version) && version.range) {
      doc.version = text.slice(version.range[0], version.range[1]).trim();
    }
  }
  return releaseFromDocument(doc, filename);
}

/** Converts an already-parsed release document; throws ReleaseFileError listing every problem. */
export function releaseFromDocument(doc: unknown, source = 'release file'): ReleaseInput {
  const issues: Issues = [];
  if (doc === null || doc === undefined) throw new ReleaseFileError(['the file is empty'], source);
  if (!isRecord(doc)) throw new ReleaseFileError([`expected a map with app, version and workloads, got ${describe(doc)}`], source);
  const section = 'services' in doc && !('workloads' in doc) ? 'services' : 'workloads';
  const out: Json = {};
  const fieldSources = new Map<string, Map<string, string>>();
  for (const [key, value] of Object.entries(doc)) {
    if (key.startsWith('x-')) continue; // compose extension fields exist to be ignored (anchors)
    switch (key) {
      case 'app':
      case 'name':
        if ('app' in doc && 'name' in doc) {
          if (key === 'name') issues.push('app and name both given: use app');
        } else out.app = value;
        break;
      case 'version':
        if (typeof value === 'number' && !Number.isInteger(value)) issues.push(`version: write ${value} as a string ("${value}") so no digits are lost`);
        else out.version = typeof value === 'number' ? String(value) : value;
        break;
      case 'notes':
        out.notes = value;
        break;
      case 'workloads':
      case 'services':
        if ('workloads' in doc && 'services' in doc) {
          if (key === 'services') issues.push('workloads and services both given: use one');
          break;
        }
        if (!isRecord(value)) {
          issues.push(`${key}: expected a map of workload name to workload, got ${describe(value)}`);
          break;
        }
        out.workloads = Object.fromEntries(
          Object.entries(value).map(([name, spec]) => {
            const sources = new Map<string, string>();
            fieldSources.set(name, sources);
            return [name, convertWorkload(spec, [key, name], issues, sources)];
          }),
        );
        break;
      case 'volumes':
        checkVolumeDeclarations(value, issues);
        break;
      case 'networks':
      case 'secrets':
      case 'configs':
        issues.push(`${key}: top-level ${key} are not supported by Outpost`);
        break;
      default:
        issues.push(`${key}: unknown top-level key${suggest(key, ['app', 'version', 'workloads', 'services', 'notes', 'volumes'])}`);
    }
  }
  if (out.app === undefined) issues.push('app: required (the application name, e.g. app: kiosk)');
  if (out.version === undefined) issues.push('version: required (the release version, e.g. version: 1.4.2)');
  if (out.workloads === undefined && !('workloads' in doc) && !('services' in doc)) issues.push('workloads: required (a map of workload name to image and settings)');
  if (issues.length) throw new ReleaseFileError(issues, source);
  const checked = ReleaseInput.safeParse(out);
  if (!checked.success) throw new ReleaseFileError(checked.error.issues.map((i) => zodIssue(i, section, fieldSources)), source);
  return out as ReleaseInput;
}

function zodIssue(issue: z.core.$ZodIssue, section: string, fieldSources: Map<string, Map<string, string>>): string {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  if (path[0] === 'workloads') {
    path[0] = section;
    const workload = path[1];
    const field = path[2];
    const sources = typeof workload === 'string' ? fieldSources.get(workload) : undefined;
    const resource = field === 'resources' && typeof path[3] === 'string' ? sources?.get(`resources.${path[3]}`) : undefined;
    if (resource) path.splice(2, 2, resource);
    else if (typeof field === 'string') path[2] = sources?.get(field) ?? field;
  }
  // zod reports a bad record key as "Invalid key in record"; the key's own issue says why.
  const message = issue.code === 'invalid_key' ? (issue.issues[0]?.message ?? issue.message) : issue.message;
  return `${formatPath(path) || 'release'}: ${message}`;
}

function checkVolumeDeclarations(value: unknown, issues: Issues): void {
  if (value === null) return;
  if (!isRecord(value)) {
    issues.push(`volumes: expected a map of volume names, got ${describe(value)}`);
    return;
  }
  for (const [name, options] of Object.entries(value)) {
    if (options !== null && !(isRecord(options) && Object.keys(options).length === 0)) {
      issues.push(`volumes.${name}: volume options (driver, external, ...) are not supported; Outpost creates named volumes on the device`);
    }
  }
}

// ---- workloads ----------------------------------------------------------------

/** Compose keys Outpost cannot honour, with the reason shown to the user. */
const UNSUPPORTED: Record<string, string> = {
  build: 'Outpost runs prebuilt images: build and push the image, then set image',
  privileged: 'containers never run privileged on Outpost devices',
  network_mode: 'workloads run on the default bridge network; host and container networking are not supported',
  networks: 'workloads run on the default bridge network; custom networks are not supported',
  depends_on: 'the workloads of a release start independently; make them retry until their dependencies answer',
  container_name: 'Outpost names containers itself (<app>-<workload>)',
  env_file: 'put the variables under environment',
  devices: 'device access is not supported',
  cap_add: 'capabilities cannot be changed',
  cap_drop: 'capabilities cannot be changed',
  security_opt: 'security options cannot be changed',
  expose: 'publish ports with ports',
  links: 'links are not supported',
  external_links: 'links are not supported',
  extra_hosts: 'extra hosts are not supported',
  secrets: 'secrets are not supported; use environment or a bind mount',
  configs: 'configs are not supported; use a bind mount',
  profiles: 'every workload of a release runs',
  extends: 'extends is not supported; use YAML anchors',
  scale: 'each workload runs one container per device',
};

const KNOWN = [
  'image', 'command', 'entrypoint', 'environment', 'env', 'ports', 'volumes', 'tmpfs', 'restart', 'restartMaxRetries', 'labels',
  'user', 'working_dir', 'workingDir', 'mem_limit', 'memory', 'cpus', 'pids_limit', 'resources', 'deploy',
  'stop_grace_period', 'stopTimeoutSeconds', 'pull_policy', 'pullPolicy', 'healthcheck', 'health',
  'min_ready_seconds', 'minReadySeconds', 'strategy',
];

/** Spellings of one output field; giving two of them is an error. */
const FIELD_OF: Record<string, string> = {
  environment: 'env', env: 'env', working_dir: 'workingDir', workingDir: 'workingDir',
  stop_grace_period: 'stopTimeoutSeconds', stopTimeoutSeconds: 'stopTimeoutSeconds', pull_policy: 'pullPolicy', pullPolicy: 'pullPolicy',
  healthcheck: 'health', health: 'health', min_ready_seconds: 'minReadySeconds', minReadySeconds: 'minReadySeconds',
};

type Resources = { memoryBytes?: number; cpus?: number; pidsLimit?: number };

function convertWorkload(spec: unknown, path: Path, issues: Issues, sources: Map<string, string>): Json {
  const out: Json = {};
  if (!isRecord(spec)) {
    issues.push(`${formatPath(path)}: expected a map with at least image, got ${describe(spec)}`);
    return out;
  }
  if (spec.image === undefined) issues.push(`${formatPath([...path, 'image'])}: required (a Docker image reference, e.g. nginx:1.27)`);
  const resources: Resources = {};
  const resourceSources: Partial<Record<keyof Resources, string>> = {};
  const setResource = (field: keyof Resources, value: number | undefined, at: Path): void => {
    if (value === undefined) return;
    const previous = resourceSources[field];
    if (previous) issues.push(`${formatPath(at)}: ${field} is already set by ${previous}`);
    resources[field] = value;
    resourceSources[field] = formatPath(at.slice(path.length));
  };
  for (const [key, value] of Object.entries(spec)) {
    const at = [...path, key];
    const here = formatPath(at);
    if (key.startsWith('x-')) continue;
    const field = FIELD_OF[key] ?? key;
    if (sources.has(field)) {
      issues.push(`${here}: ${sources.get(field)} is given too; use one of them`);
      continue;
    }
    sources.set(field, key);
    switch (key) {
      case 'image':
      case 'user':
        out[key] = typeof value === 'number' ? String(value) : value;
        break;
      case 'command':
      case 'entrypoint':
        out[key] = commandLine(value, here, issues);
        break;
      case 'environment':
      case 'env':
        out.env = keyValues(value, here, issues, 'environment');
        break;
      case 'labels':
        out.labels = keyValues(value, here, issues, 'labels');
        break;
      case 'ports':
        out.ports = list(value, here, issues).flatMap((p, i) => portMappings(p, formatPath([...at, i]), issues));
        break;
      case 'volumes':
      case 'tmpfs': {
        const mounts = key === 'volumes' ? list(value, here, issues).map((v, i) => volumeMount(v, formatPath([...at, i]), issues)) : tmpfsMounts(value, here, issues);
        out.volumes = [...((out.volumes as unknown[] | undefined) ?? []), ...mounts];
        break;
      }
      case 'restart':
        Object.assign(out, restartPolicy(value));
        break;
      case 'restartMaxRetries':
      case 'workingDir':
      case 'stopTimeoutSeconds':
      case 'pullPolicy':
      case 'health':
      case 'minReadySeconds':
      case 'strategy':
        out[key] = value;
        break;
      case 'min_ready_seconds':
        out.minReadySeconds = seconds(value, here, issues);
        break;
      case 'healthcheck':
        out.health = healthCheck(value, here, issues);
        break;
      case 'working_dir':
        out.workingDir = value;
        break;
      case 'mem_limit':
      case 'memory':
        setResource('memoryBytes', bytes(value, here, issues), at);
        break;
      case 'cpus':
        setResource('cpus', number(value, here, issues), at);
        break;
      case 'pids_limit':
        setResource('pidsLimit', pidsLimit(value, here, issues), at);
        break;
      case 'resources':
        if (!isRecord(value)) issues.push(`${here}: expected a map of memoryBytes, cpus, pidsLimit`);
        else for (const [k, v] of Object.entries(value)) setResource(k as keyof Resources, v as number, [...at, k]);
        break;
      case 'deploy':
        deployLimits(value, at, issues, setResource);
        break;
      case 'stop_grace_period':
        out.stopTimeoutSeconds = seconds(value, here, issues);
        break;
      case 'pull_policy':
        out.pullPolicy = pullPolicy(value, here, issues);
        break;
      case 'network_mode':
        if (value !== 'bridge' && value !== 'default') issues.push(`${here}: network_mode ${describe(value)} is not supported (${UNSUPPORTED.network_mode})`);
        break;
      case 'privileged':
        if (value !== false) issues.push(`${here}: not supported by Outpost (${UNSUPPORTED.privileged})`);
        break;
      default: {
        const reason = UNSUPPORTED[key];
        issues.push(reason ? `${here}: not supported by Outpost (${reason})` : `${here}: unknown key${suggest(key, KNOWN) || ' (not a supported compose key)'}`);
      }
    }
  }
  if (Object.keys(resources).length) out.resources = resources;
  for (const [field, source] of Object.entries(resourceSources)) sources.set(`resources.${field}`, source);
  return out;
}

function list(value: unknown, here: string, issues: Issues): unknown[] {
  if (Array.isArray(value)) return value;
  issues.push(`${here}: expected a list, got ${describe(value)}`);
  return [];
}

/** Splits a command line on whitespace, honouring '…', "…" and backslash escapes (no variables, no globs). */
export function splitCommandLine(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charAt(i);
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === '\\' && quote === '"' && (text[i + 1] === '"' || text[i + 1] === '\\')) word += text.charAt(++i);
      else word += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < text.length) {
      word += text.charAt(++i);
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} quote`);
  if (inWord) words.push(word);
  return words;
}

function commandLine(value: unknown, here: string, issues: Issues): unknown {
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'number' ? String(v) : v));
  if (typeof value !== 'string') {
    issues.push(`${here}: expected a string or a list of strings, got ${describe(value)}`);
    return undefined;
  }
  try {
    return splitCommandLine(value);
  } catch (err) {
    issues.push(`${here}: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

/** `{K: V}` or `["K=V"]`; compose's value-less form (take it from the shell) has no meaning on a device. */
function keyValues(value: unknown, here: string, issues: Issues, kind: 'environment' | 'labels'): Record<string, string> {
  const out: Record<string, string> = {};
  const entries: [string, unknown][] = [];
  if (Array.isArray(value)) {
    for (const item of value) {
      if (typeof item !== 'string') issues.push(`${here}: expected "KEY=value" entries, got ${describe(item)}`);
      else {
        const eq = item.indexOf('=');
        entries.push(eq < 0 ? [item, kind === 'labels' ? '' : null] : [item.slice(0, eq), item.slice(eq + 1)]);
      }
    }
  } else if (isRecord(value)) {
    for (const [k, v] of Object.entries(value)) entries.push([k, v === null && kind === 'labels' ? '' : v]);
  } else {
    issues.push(`${here}: expected a map or a list of "KEY=value", got ${describe(value)}`);
  }
  for (const [k, v] of entries) {
    if (k in out) issues.push(`${here}.${k}: given twice`);
    if (v === null || v === undefined) issues.push(`${here}.${k}: has no value (Outpost does not read the shell's environment; give the value)`);
    else if (!isScalar(v)) issues.push(`${here}.${k}: expected a string, got ${describe(v)}`);
    else out[k] = String(v);
  }
  return out;
}

// ---- ports --------------------------------------------------------------------

function portRange(text: string): number[] | null {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text.trim());
  if (!m) return null;
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  if (to < from || to - from >= 1024) return null;
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Compose short syntax `[ip:]host:container[/proto]` (ranges allowed) or the long form. */
function portMappings(value: unknown, here: string, issues: Issues): Json[] {
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

// ---- volumes ------------------------------------------------------------------

/** Short `name:/path[:ro]` (named volume) or `/host:/path[:ro]` (bind), or the long form. */
function volumeMount(value: unknown, here: string, issues: Issues): Json {
  if (isRecord(value)) return longVolume(value, here, issues);
  if (typeof value !== 'string') {
    issues.push(`${here}: expected "source:target[:ro]" or a map with type, source and target, got ${describe(value)}`);
    return {};
  }
  const [source = '', target, mode, ...extra] = value.split(':');
  if (target === undefined) {
    issues.push(`${here}: "${value}" is an anonymous volume; name it, e.g. "data:${value}"`);
    return {};
  }
  if (extra.length || (mode !== undefined && mode !== 'ro' && mode !== 'rw')) {
    issues.push(`${here}: "${value}": only the ro and rw modes are supported`);
    return {};
  }
  const readOnly = mode === 'ro';
  if (source.startsWith('.') || source.startsWith('~')) {
    issues.push(`${here}: "${source}" is a relative path; bind mounts need an absolute host path`);
    return {};
  }
  return source.startsWith('/') ? { type: 'bind', source, target, readOnly } : { type: 'volume', name: source, target, readOnly };
}

function longVolume(value: Json, here: string, issues: Issues): Json {
  const out: Json = {};
  const type = value.type ?? 'volume';
  for (const [k, v] of Object.entries(value)) {
    if (k === 'type' || k === 'target') out[k] = v;
    else if (k === 'source' || k === 'name') out[type === 'volume' ? 'name' : 'source'] = v;
    else if (k === 'read_only' || k === 'readOnly') out.readOnly = v;
    else if (k === 'sizeBytes') out.sizeBytes = v;
    else if (k === 'tmpfs' && isRecord(v) && Object.keys(v).every((o) => o === 'size')) {
      if (v.size !== undefined) out.sizeBytes = bytes(v.size, `${here}.tmpfs.size`, issues);
    } else issues.push(`${here}.${k}: not supported in a volume (use type, source, target, read_only, tmpfs.size)`);
  }
  out.type = type;
  return out;
}

function tmpfsMounts(value: unknown, here: string, issues: Issues): Json[] {
  const items = typeof value === 'string' ? [value] : list(value, here, issues);
  return items.map((item, i) => {
    const at = `${here}[${i}]`;
    if (typeof item !== 'string') {
      issues.push(`${at}: expected "/path[:size=64m]", got ${describe(item)}`);
      return {};
    }
    const [target, options] = item.split(/:(.*)/s);
    const out: Json = { type: 'tmpfs', target };
    for (const option of options ? options.split(',') : []) {
      if (option.startsWith('size=')) out.sizeBytes = bytes(option.slice(5), at, issues);
      else issues.push(`${at}: tmpfs option "${option}" is not supported (only size=)`);
    }
    return out;
  });
}

// ---- scalars ------------------------------------------------------------------

function restartPolicy(value: unknown): Json {
  if (value === false) return { restart: 'no' };
  const m = typeof value === 'string' ? /^on-failure:(\d+)$/.exec(value) : null;
  return m ? { restart: 'on-failure', restartMaxRetries: Number(m[1]) } : { restart: value };
}

function number(value: unknown, here: string, issues: Issues): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n === 'number' && Number.isFinite(n)) return n;
  issues.push(`${here}: expected a number, got ${describe(value)}`);
  return undefined;
}

/** -1 and 0 mean "no limit" in compose, which is what leaving it out means here. */
function pidsLimit(value: unknown, here: string, issues: Issues): number | undefined {
  const n = number(value, here, issues);
  return n === undefined || n <= 0 ? undefined : n;
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Compose byte values: a number of bytes or "256m", "1g", "512kb", "64MiB" (binary multiples). */
export function parseBytes(value: unknown): number | null {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : null;
  if (typeof value !== 'string') return null;
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?$/i.exec(value.trim());
  const unit = UNITS[(m?.[2] ?? '').toLowerCase()];
  return m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : null;
}

function bytes(value: unknown, here: string, issues: Issues): number | undefined {
  const n = parseBytes(value);
  if (n === null) issues.push(`${here}: ${describe(value)} is not a size; use bytes or a number with b, k, m or g (e.g. 256m)`);
  return n ?? undefined;
}

const DURATION_UNITS: Record<string, number> = { us: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/** Compose durations ("10s", "1m30s", "1.5s") or a number of seconds, rounded up to whole seconds. */
export function parseDurationSeconds(value: unknown): number | null {
  if (typeof value === 'number') return value >= 0 ? Math.ceil(value) : null;
  if (typeof value !== 'string' || !/^(\d+(\.\d+)?(us|ms|s|m|h))+$/.test(value.trim())) return null;
  let total = 0;
  for (const m of value.trim().matchAll(/(\d+(?:\.\d+)?)(us|ms|s|m|h)/g)) total += Number(m[1]) * (DURATION_UNITS[m[2] ?? 's'] ?? 1);
  return Math.ceil(Math.round(total * 1000) / 1000);
}

function seconds(value: unknown, here: string, issues: Issues): number | undefined {
  const n = parseDurationSeconds(value);
  if (n === null) issues.push(`${here}: ${describe(value)} is not a duration; use e.g. 10s or 1m30s`);
  return n ?? undefined;
}

function pullPolicy(value: unknown, here: string, issues: Issues): string | undefined {
  if (value === 'always') return 'always';
  if (value === 'missing' || value === 'if_not_present' || value === 'if-not-present') return 'if-not-present';
  issues.push(`${here}: ${describe(value)} is not supported; use always or missing`);
  return undefined;
}

const HEALTH_DURATIONS: Record<string, string> = {
  interval: 'intervalSeconds',
  timeout: 'timeoutSeconds',
  start_period: 'startPeriodSeconds',
};

/**
 * Compose `healthcheck` → a `cmd` health check. `test` is `["CMD", …]`,
 * `["CMD-SHELL", "…"]` or a string (shell form). Disabling the image's own
 * check has no equivalent: without a check the image's HEALTHCHECK counts.
 */
function healthCheck(value: unknown, here: string, issues: Issues): Json | undefined {
  if (!isRecord(value)) {
    issues.push(`${here}: expected a map with test, interval, timeout, retries, start_period`);
    return undefined;
  }
  const out: Json = { type: 'cmd' };
  for (const [k, v] of Object.entries(value)) {
    const at = `${here}.${k}`;
    const field = HEALTH_DURATIONS[k];
    if (k === 'test') {
      const [form, ...rest] = typeof v === 'string' ? ['CMD-SHELL', v] : Array.isArray(v) ? v : [];
      if (form === 'CMD' && rest.length) out.command = rest.map(String);
      else if (form === 'CMD-SHELL' && rest.length === 1) out.command = ['/bin/sh', '-c', String(rest[0])];
      else if (form === 'NONE') issues.push(`${at}: disabling the image's health check is not supported; leave healthcheck out`);
      else issues.push(`${at}: expected ["CMD", "prog", "arg"...], ["CMD-SHELL", "command"] or a command string`);
    } else if (field) out[field] = seconds(v, at, issues);
    else if (k === 'retries') out.retries = v;
    else if (k === 'disable' && v === true) issues.push(`${at}: disabling the image's health check is not supported; leave healthcheck out`);
    else issues.push(`${at}: not supported in a health check (use test, interval, timeout, retries, start_period)`);
  }
  if (out.command === undefined && !('test' in value)) issues.push(`${here}.test: required (the command that exits 0 when healthy)`);
  return out;
}

function deployLimits(value: unknown, at: Path, issues: Issues, set: (f: keyof Resources, v: number | undefined, at: Path) => void): void {
  const here = formatPath(at);
  if (!isRecord(value)) {
    issues.push(`${here}: expected a map`);
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    if (k !== 'resources' || !isRecord(v)) {
      issues.push(`${here}.${k}: not supported by Outpost (only deploy.resources.limits is)`);
      continue;
    }
    for (const [rk, limits] of Object.entries(v)) {
      if (rk !== 'limits' || !isRecord(limits)) {
        issues.push(`${here}.resources.${rk}: not supported by Outpost (only limits is)`);
        continue;
      }
      for (const [lk, lv] of Object.entries(limits)) {
        const lat = [...at, 'resources', 'limits', lk];
        if (lk === 'memory') set('memoryBytes', bytes(lv, formatPath(lat), issues), lat);
        else if (lk === 'cpus') set('cpus', number(lv, formatPath(lat), issues), lat);
        else if (lk === 'pids') set('pidsLimit', pidsLimit(lv, formatPath(lat), issues), lat);
        else issues.push(`${formatPath(lat)}: not supported (use memory, cpus, pids)`);
      }
    }
  }
}

/** ` (did you mean "x"?)` for a near miss, else ''. */
function suggest(key: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best ? ` (did you mean ${best}?)` : '';
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}
