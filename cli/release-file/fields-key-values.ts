import { describe } from './format.js';
import { isRecord, isScalar, type Issues } from './types.js';

/** `{K: V}` or `["K=V"]`; compose's value-less form (take it from the shell) has no meaning on a device. */
export function keyValues(value: unknown, here: string, issues: Issues, kind: 'environment' | 'labels'): Record<string, string> {
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
    if (Object.hasOwn(out, k)) issues.push(`${here}.${k}: given twice`);
    if (v === null || v === undefined) issues.push(`${here}.${k}: has no value (Outpost does not read the shell's environment; give the value)`);
    else if (!isScalar(v)) issues.push(`${here}.${k}: expected a string, got ${describe(v)}`);
    else out[k] = String(v);
  }
  return out;
}
