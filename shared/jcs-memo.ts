import { jcs } from './jcs.js';

/**
 * RFC 8785 canonical form of a JSON object whose member values repeat across
 * many documents (a fleet deploy signs thousands of documents with the same
 * workloads, provenance and trust): each object or array member is
 * canonicalized once per distinct JSON text. Only for values parsed from
 * JSON: equal JSON.stringify output means an equal value, hence equal
 * canonical text. Member order and everything else are exactly jcs's.
 */
export function memoJcs(memo: Map<string, string> = new Map()): (value: unknown) => string {
  const member = (v: unknown): string => {
    if (v === null || typeof v !== 'object') return jcs(v);
    const text = JSON.stringify(v);
    let canonical = memo.get(text);
    if (canonical === undefined) {
      canonical = jcs(v);
      memo.set(text, canonical);
    }
    return canonical;
  };
  return (value: unknown): string => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return jcs(value);
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${member(v)}`).join(',')}}`;
  };
}
