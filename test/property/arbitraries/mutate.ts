import fc from 'fast-check';

/**
 * Structurally near-valid inputs: a valid document with one to three edits
 * at random places (a field dropped, retyped, emptied, stretched, or an
 * unknown field added). Random JSON alone almost never gets past a parser's
 * first check; these reach the deep ones.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Path = (string | number)[];

const KINDS = ['delete', 'replace', 'add-key', 'retype', 'empty', 'stretch', 'extreme-number', 'wrap-array'] as const;
type Kind = (typeof KINDS)[number];

interface Mutation {
  at: number;
  kind: Kind;
  replacement: Json;
  key: string;
  number: number;
}

const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom(...KINDS),
  replacement: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
  key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('privileged', 'extra', 'constructor', '__proto__', 'signature', 'version')),
  number: fc.constantFrom(0, -1, 0.5, 1e308, -1e308, 2 ** 53, 2 ** 31, 65536, Number.MAX_SAFE_INTEGER + 2, -0),
});

/** Every path in a JSON value, the root included. */
function paths(value: Json, prefix: Path = []): Path[] {
  const out: Path[] = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  return out;
}

function edit(value: Json, m: Mutation): Json {
  switch (m.kind) {
    case 'delete':
      return undefined as unknown as Json; // removed by the caller
    case 'replace':
      return m.replacement;
    case 'add-key':
      return value !== null && typeof value === 'object' && !Array.isArray(value) ? { ...value, [m.key]: m.replacement } : value;
    case 'retype':
      if (typeof value === 'number') return String(value);
      if (typeof value === 'string') return value.length > 0 && Number.isFinite(Number(value)) ? Number(value) : value.length;
      if (typeof value === 'boolean') return String(value);
      if (value === null) return 'null';
      return JSON.stringify(value);
    case 'empty':
      if (typeof value === 'string') return '';
      if (Array.isArray(value)) return [];
      if (value !== null && typeof value === 'object') return {};
      return null;
    case 'stretch':
      if (typeof value === 'string') return value.repeat(2) + 'x'.repeat(5000);
      if (Array.isArray(value)) return Array.from({ length: 300 }, () => value[0] ?? m.replacement);
      return value;
    case 'extreme-number':
      return m.number;
    case 'wrap-array':
      return [value];
  }
}

/** A deep copy of `doc` with the mutation applied at the `m.at`-th path (modulo their count). */
export function applyMutation(doc: Json, m: Mutation): Json {
  const all = paths(doc);
  const path = all[m.at % all.length] as Path;
  if (path.length === 0) return m.kind === 'delete' ? m.replacement : edit(doc, m);
  const copy = structuredClone(doc);
  let parent: Json = copy;
  for (const step of path.slice(0, -1)) parent = (parent as Record<string | number, Json>)[step] as Json;
  const last = path[path.length - 1] as string | number;
  const container = parent as Record<string | number, Json>;
  if (m.kind === 'delete') {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete container[last];
  } else {
    container[last] = edit(container[last] as Json, m);
  }
  return copy;
}

/** `base` with one to three mutations. */
export function mutated<T>(base: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.tuple(base, fc.array(mutationArb, { minLength: 1, maxLength: 3 })).map(([doc, ms]) => ms.reduce((d, m) => applyMutation(d, m), JSON.parse(JSON.stringify(doc)) as Json));
}

/** Valid documents, mutated ones and random JSON, mixed. */
export function nearValid<T>(base: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof({ arbitrary: base, weight: 1 }, { arbitrary: mutated(base), weight: 4 }, { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 1 });
}

/**
 * JSON nested deeper than a recursive walk's call stack goes, in objects or
 * arrays, under a given top-level key, now and then with a `__proto__` key
 * at the bottom.
 */
export function deepJsonArb(topKey: string): fc.Arbitrary<string> {
  return fc.tuple(fc.integer({ min: 2_000, max: 25_000 }), fc.boolean(), fc.boolean()).map(([depth, arrays, proto]) => {
    const bottom = proto ? '{"__proto__":1}' : '1';
    const [open, close] = arrays ? ['[', ']'] : ['{"a":', '}'];
    return `{"${topKey}":${open.repeat(depth)}${bottom}${close.repeat(depth)}}`;
  });
}
