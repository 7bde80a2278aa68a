import { bytes, list } from './fields-values.js';
import { describe } from './format.js';
import { isRecord, type Issues, type Json } from './types.js';

/** Top-level `volumes:` may only declare names; Outpost creates them on the device. */
export function checkVolumeDeclarations(value: unknown, issues: Issues): void {
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

/** Short `name:/path[:ro]` (named volume) or `/host:/path[:ro]` (bind), or the long form. */
export function volumeMount(value: unknown, here: string, issues: Issues): Json {
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

export function tmpfsMounts(value: unknown, here: string, issues: Issues): Json[] {
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
