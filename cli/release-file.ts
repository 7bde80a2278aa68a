import { isScalar as isYamlScalar, parseDocument } from 'yaml';
import type { z } from 'zod';
import { ReleaseInput } from '../controller/model/release.js';
import { commandLine } from './release-file/fields-command.js';
import { deployLimits } from './release-file/fields-deploy.js';
import { healthCheck } from './release-file/fields-health.js';
import { keyValues } from './release-file/fields-key-values.js';
import { pullPolicy, restartPolicy } from './release-file/fields-policies.js';
import { portMappings } from './release-file/fields-ports.js';
import { bytes, list, number, pidsLimit, seconds } from './release-file/fields-values.js';
import { checkVolumeDeclarations, tmpfsMounts, volumeMount } from './release-file/fields-volumes.js';
import { describe, formatPath } from './release-file/format.js';
import { suggest } from './release-file/suggest.js';
import { isRecord, type Issues, type Json, type Path, type Resources } from './release-file/types.js';

export { splitCommandLine } from './release-file/fields-command.js';
export { parseBytes, parseDurationSeconds } from './release-file/fields-values.js';
export { formatPath } from './release-file/format.js';

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
    if (first) throw new ReleaseFileError([`not valid YAML: ${yamlMessage(first)}`], filename);
    try {
      doc = parsed.toJS({ maxAliasCount: 1000 });
    } catch (err) {
      // Some errors surface only while resolving aliases and merge keys (`<<: *scalar`).
      throw new ReleaseFileError([`not valid YAML: ${yamlMessage(err)}`], filename);
    }
    // `version: 1.10` is a YAML float; the release version is the text as written.
    const version = parsed.get('version', true);
    if (isRecord(doc) && typeof doc.version === 'number' && isYamlScalar(version) && version.range) {
      doc.version = text.slice(version.range[0], version.range[1]).trim();
    }
  }
  return releaseFromDocument(doc, filename);
}

function yamlMessage(err: unknown): string {
  return ((err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '').replace(/:$/, '');
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
  cap_drop: 'containers already run with a minimal capability set; ask for more with cap_add',
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
  'min_ready_seconds', 'minReadySeconds', 'strategy', 'cap_add', 'capabilities',
];

/** Spellings of one output field; giving two of them is an error. */
const FIELD_OF: Record<string, string> = {
  environment: 'env', env: 'env', working_dir: 'workingDir', workingDir: 'workingDir',
  stop_grace_period: 'stopTimeoutSeconds', stopTimeoutSeconds: 'stopTimeoutSeconds', pull_policy: 'pullPolicy', pullPolicy: 'pullPolicy',
  healthcheck: 'health', health: 'health', min_ready_seconds: 'minReadySeconds', minReadySeconds: 'minReadySeconds',
  cap_add: 'capabilities', capabilities: 'capabilities',
};

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
      case 'cap_add':
      case 'capabilities':
        // Compose accepts CAP_NET_ADMIN and NET_ADMIN; the device grants only what its operator allowed (DD-024).
        out.capabilities = list(value, here, issues).map((c) => (typeof c === 'string' ? c.replace(/^CAP_/, '') : c));
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
