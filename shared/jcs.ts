/**
 * RFC 8785 JSON Canonicalization Scheme: the exact bytes a signature covers.
 * Object members sorted by their names' UTF-16 code units, no whitespace,
 * strings and numbers serialized as ECMAScript's JSON.stringify does (which
 * RFC 8785 adopts). Written out member by member rather than by building a
 * sorted object, because JavaScript enumerates integer-like keys ("10",
 * "9") numerically first, whatever the insertion order.
 */
export function jcs(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('JCS: numbers must be finite');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => jcs(v === undefined ? null : v)).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${jcs(v)}`).join(',')}}`;
  }
  throw new TypeError(`JCS: cannot serialize a ${typeof value}`);
}
