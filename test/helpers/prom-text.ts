/**
 * A strict parser of the Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/), for tests
 * of /metrics. Any line it does not understand is an error naming the line:
 * a malformed exposition must fail the test, not be skipped.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  /** The series name as written (e.g. foo_bucket for a histogram family foo). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: MetricType;
  help: string | null;
  samples: Sample[];
}

export class PromTextError extends Error {
  constructor(lineNo: number, line: string, why: string) {
    super(`line ${lineNo}: ${why}: ${JSON.stringify(line.slice(0, 200))}`);
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES: readonly MetricType[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

/** Series names a family of this type may have. */
function seriesNames(family: string, type: MetricType): string[] {
  if (type === 'histogram') return [`${family}_bucket`, `${family}_sum`, `${family}_count`];
  if (type === 'summary') return [family, `${family}_sum`, `${family}_count`];
  return [family];
}

/** Values as Prometheus reads them (Go's strconv.ParseFloat): NaN and Inf in any case; prom-client writes "Nan". */
function parseValue(text: string): number | null {
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(text);
  if (special) return special[2]?.toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return null;
  return Number(text);
}

/** `{a="x",b="y"}` at the start of `rest`: the labels and what follows the closing brace, or why not. */
function parseLabels(rest: string): { labels: Record<string, string>; after: string } | string {
  const labels: Record<string, string> = {};
  let i = 1; // past '{'
  for (;;) {
    if (rest[i] === '}') return { labels, after: rest.slice(i + 1) };
    const nameMatch = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(rest.slice(i));
    if (!nameMatch) return 'bad label name';
    const name = nameMatch[0];
    i += name.length;
    if (rest[i] !== '=' || rest[i + 1] !== '"') return `label ${name}: expected ="`;
    i += 2;
    let value = '';
    for (;;) {
      const c = rest[i];
      if (c === undefined) return `label ${name}: unterminated value`;
      if (c === '"') break;
      if (c === '\n') return `label ${name}: raw newline in value`;
      if (c === '\\') {
        const e = rest[i + 1];
        if (e === '\\') value += '\\';
        else if (e === '"') value += '"';
        else if (e === 'n') value += '\n';
        else return `label ${name}: bad escape \\${e ?? ''}`;
        i += 2;
        continue;
      }
      value += c;
      i += 1;
    }
    i += 1; // past closing quote
    if (Object.hasOwn(labels, name)) return `label ${name} repeated`;
    if (!LABEL_NAME.test(name)) return `bad label name ${name}`;
    labels[name] = value;
    if (rest[i] === ',') i += 1;
    else if (rest[i] !== '}') return `after label ${name}: expected , or }`;
  }
}

/** Parses a whole exposition; throws PromTextError on the first malformed line. */
export function parsePromText(text: string): Map<string, MetricFamily> {
  if (text.length > 0 && !text.endsWith('\n')) throw new PromTextError(0, text.slice(-50), 'the exposition must end with a newline');
  const families = new Map<string, MetricFamily>();
  /** Series name → family name, for every declared family. */
  const owner = new Map<string, string>();
  const seen = new Set<string>();
  /** Families that had a TYPE line. */
  const typeSeen = new Set<string>();
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, index) => {
    const lineNo = index + 1;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!m) {
        if (/^#\s*(HELP|TYPE)\b/.test(line)) throw new PromTextError(lineNo, line, 'malformed HELP/TYPE line');
        return; // a plain comment
      }
      const [, kind, name = '', rest = ''] = m;
      if (!METRIC_NAME.test(name)) throw new PromTextError(lineNo, line, 'bad metric name');
      let family = families.get(name);
      if (kind === 'TYPE') {
        if (!TYPES.includes(rest as MetricType)) throw new PromTextError(lineNo, line, `unknown type ${rest}`);
        if (family && (family.samples.length > 0 || typeSeen.has(name))) throw new PromTextError(lineNo, line, 'TYPE repeated or after samples');
        typeSeen.add(name);
        if (!family) {
          family = { name, type: rest as MetricType, help: null, samples: [] };
          families.set(name, family);
        } else family.type = rest as MetricType;
        for (const s of seriesNames(name, family.type)) {
          if (owner.has(s) && owner.get(s) !== name) throw new PromTextError(lineNo, line, `series ${s} already belongs to ${owner.get(s)}`);
          owner.set(s, name);
        }
      } else {
        if (family?.help !== null && family?.help !== undefined) throw new PromTextError(lineNo, line, 'HELP repeated');
        if (!family) {
          family = { name, type: 'untyped', help: null, samples: [] };
          families.set(name, family);
          owner.set(name, name);
        }
        family.help = rest;
      }
      return;
    }
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!nameMatch) throw new PromTextError(lineNo, line, 'not a sample, comment or blank line');
    const name = nameMatch[0];
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) {
      const parsed = parseLabels(rest);
      if (typeof parsed === 'string') throw new PromTextError(lineNo, line, parsed);
      labels = parsed.labels;
      rest = parsed.after;
    }
    const fields = /^ +(\S+)(?: +(-?\d+))? *$/.exec(rest);
    if (!fields) throw new PromTextError(lineNo, line, 'expected " value [timestamp]" after the name and labels');
    const value = parseValue(fields[1] ?? '');
    if (value === null) throw new PromTextError(lineNo, line, `bad value ${fields[1] ?? ''}`);
    const familyName = owner.get(name);
    if (familyName === undefined) throw new PromTextError(lineNo, line, `sample of ${name} without a TYPE or HELP line before it`);
    const family = families.get(familyName);
    if (!family) throw new PromTextError(lineNo, line, `no family ${familyName}`);
    if (family.type === 'histogram' && name.endsWith('_bucket') && labels.le === undefined) throw new PromTextError(lineNo, line, 'histogram bucket without le');
    if (family.type === 'counter' && value < 0) throw new PromTextError(lineNo, line, 'negative counter');
    const key = `${name}${JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)))}`;
    if (seen.has(key)) throw new PromTextError(lineNo, line, 'series repeated');
    seen.add(key);
    family.samples.push({ name, labels, value });
  });
  return families;
}

/** The single sample of `name` whose labels include `labels`; throws when there is none or several. */
export function sampleValue(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number {
  const found = [...families.values()]
    .flatMap((f) => f.samples)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length !== 1) throw new Error(`${found.length} samples of ${name}${JSON.stringify(labels)}, expected exactly 1`);
  return (found[0] as Sample).value;
}

/** label value → sample value, for every sample of `name` (which must vary only in `label`, after `filter`). */
export function valuesBy(families: Map<string, MetricFamily>, name: string, label: string, filter: Record<string, string> = {}): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name || !Object.entries(filter).every(([k, v]) => s.labels[k] === v)) continue;
      const key = s.labels[label];
      if (key === undefined) throw new Error(`${name} sample without label ${label}`);
      if (Object.hasOwn(out, key)) throw new Error(`${name}: two samples with ${label}=${key}`);
      out[key] = s.value;
    }
  }
  return out;
}
