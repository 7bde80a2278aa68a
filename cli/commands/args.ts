import { deviceWorkloadName, parseReleaseRef } from '../../controller/model/names.js';
import { usageError } from './command-context.js';

/** Commander collector for repeatable options (`--label a=1 --label b=2`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function keyValue(text: string, what: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw usageError(`expected ${what} as KEY=VALUE, got ${JSON.stringify(text)}`);
  return [text.slice(0, eq), text.slice(eq + 1)];
}

/** `k=v` pairs into a map; a key given twice is a mistake worth saying. */
export function parsePairs(items: readonly string[], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const [k, v] = keyValue(item, what);
    if (k in out) throw usageError(`${what} ${k} given twice`);
    out[k] = v;
  }
  return out;
}

/** `key=value` sets, `key-` removes (kubectl style), plus any `--remove key`. */
export function parseLabelChanges(items: readonly string[], removeFlags: readonly string[] = []): { set: Record<string, string>; remove: string[] } {
  const set: Record<string, string> = {};
  const remove = [...removeFlags];
  for (const item of items) {
    if (item.includes('=')) Object.assign(set, parsePairs([item], 'label'));
    else if (item.endsWith('-') && item.length > 1) remove.push(item.slice(0, -1));
    else throw usageError(`expected key=value to set a label or key- to remove one, got ${JSON.stringify(item)}`);
  }
  const both = remove.filter((k) => k in set);
  if (both.length) throw usageError(`label ${both.join(', ')} both set and removed`);
  if (Object.keys(set).length === 0 && remove.length === 0) throw usageError('nothing to change: give key=value, key- or --remove key');
  return { set, remove };
}

/** `K=V` sets and `--unset K` removes (null in the API's patch). */
export function parseEnvChanges(items: readonly string[], unset: readonly string[] = []): Record<string, string | null> {
  const patch: Record<string, string | null> = parsePairs(items, 'environment variable');
  for (const key of unset) {
    if (key in patch) throw usageError(`environment variable ${key} both set and unset`);
    patch[key] = null;
  }
  if (Object.keys(patch).length === 0) throw usageError('nothing to change: give KEY=VALUE or --unset KEY');
  return patch;
}

/** The device workload a per-workload override applies to: `kiosk-web`, or `kiosk/web` for app/workload. */
export function deviceWorkload(text: string): string {
  const slash = text.indexOf('/');
  return slash < 0 ? text : deviceWorkloadName(text.slice(0, slash), text.slice(slash + 1));
}

export function releaseRefArg(text: string): { app: string; version: string } {
  const ref = parseReleaseRef(text);
  if (!ref) throw usageError(`expected APP@VERSION, e.g. kiosk@1.4.2, got ${JSON.stringify(text)}`);
  return ref;
}

export function integerArg(text: string, what: string): number {
  if (!/^[+-]?\d+$/.test(text.trim())) throw usageError(`${what} must be an integer, got ${JSON.stringify(text)}`);
  return Number(text);
}
