import { z } from 'zod';

/**
 * Label selectors, after Kubernetes' set-based grammar:
 *   key=value  key==value  key!=value  key in (a,b)  key notin (a,b)  key  !key
 * joined by commas (AND). Pure: parse once, match many.
 */
export const LABEL_KEY_PATTERN = /^[a-z0-9]([a-z0-9._/-]{0,61}[a-z0-9])?$/;
export const LABEL_VALUE_PATTERN = /^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$/;

export const LabelKey = z.string().regex(LABEL_KEY_PATTERN, 'label keys: 1-63 chars of a-z 0-9 . _ / -, alphanumeric at both ends');
export const LabelValue = z.string().regex(LABEL_VALUE_PATTERN, 'label values: up to 63 chars of A-Z a-z 0-9 . _ -, alphanumeric at both ends');
export const Labels = z.record(LabelKey, LabelValue);
export type Labels = z.infer<typeof Labels>;

export type Requirement =
  | { op: 'eq'; key: string; value: string }
  | { op: 'neq'; key: string; value: string }
  | { op: 'in'; key: string; values: string[] }
  | { op: 'notin'; key: string; values: string[] }
  | { op: 'exists'; key: string }
  | { op: 'absent'; key: string };

export type Selector = readonly Requirement[];

export class SelectorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SelectorError';
  }
}

export function parseSelector(text: string): Selector {
  if (text.length > 4096) throw new SelectorError('selector is longer than 4096 characters');
  const parts = splitTopLevel(text.trim());
  if (parts.length === 0 || (parts.length === 1 && parts[0] === '')) {
    throw new SelectorError('empty selector (to target every device, use a label all devices have)');
  }
  return parts.map(parseRequirement);
}

/** Splits on commas outside parentheses. */
function splitTopLevel(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (depth < 0) throw new SelectorError(`unbalanced ")" in selector: ${text}`);
    if (ch === ',' && depth === 0) {
      out.push(current.trim());
      current = '';
    } else current += ch;
  }
  if (depth !== 0) throw new SelectorError(`unbalanced "(" in selector: ${text}`);
  out.push(current.trim());
  return out;
}

function parseRequirement(part: string): Requirement {
  if (part === '') throw new SelectorError('empty requirement between commas');
  let m = /^!\s*([^\s=!(),]+)$/.exec(part);
  if (m) return { op: 'absent', key: key(m[1]) };
  m = /^([^\s=!(),]+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(part);
  if (m) {
    const values = (m[3] ?? '').split(',').map((v) => v.trim());
    if (values.length === 0 || values.some((v) => v === '')) throw new SelectorError(`empty value in set: ${part}`);
    return { op: m[2] === 'in' ? 'in' : 'notin', key: key(m[1]), values: values.map((v) => value(v)) };
  }
  m = /^([^\s=!(),]+)\s*(==|=|!=)\s*([^\s=!(),]*)$/.exec(part);
  if (m) {
    return m[2] === '!=' ? { op: 'neq', key: key(m[1]), value: value(m[3]) } : { op: 'eq', key: key(m[1]), value: value(m[3]) };
  }
  m = /^([^\s=!(),]+)$/.exec(part);
  if (m) return { op: 'exists', key: key(m[1]) };
  throw new SelectorError(`cannot parse selector requirement "${part}" (expected key=value, key!=value, key in (a,b), key notin (a,b), key or !key)`);
}

function key(k: string | undefined): string {
  if (!k || !LABEL_KEY_PATTERN.test(k)) throw new SelectorError(`invalid label key "${k ?? ''}"`);
  return k;
}

function value(v: string | undefined): string {
  if (v === undefined || !LABEL_VALUE_PATTERN.test(v)) throw new SelectorError(`invalid label value "${v ?? ''}"`);
  return v;
}

export function matches(selector: Selector, labels: Readonly<Record<string, string>>): boolean {
  return selector.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    const v = has ? labels[r.key] : undefined;
    switch (r.op) {
      case 'eq':
        return has && v === r.value;
      case 'neq':
        return !has || v !== r.value;
      case 'in':
        return has && r.values.includes(v as string);
      case 'notin':
        return !has || !r.values.includes(v as string);
      case 'exists':
        return has;
      case 'absent':
        return !has;
    }
  });
}

export function formatSelector(selector: Selector): string {
  return selector
    .map((r) => {
      switch (r.op) {
        case 'eq':
          return `${r.key}=${r.value}`;
        case 'neq':
          return `${r.key}!=${r.value}`;
        case 'in':
          return `${r.key} in (${r.values.join(',')})`;
        case 'notin':
          return `${r.key} notin (${r.values.join(',')})`;
        case 'exists':
          return r.key;
        case 'absent':
          return `!${r.key}`;
      }
    })
    .join(',');
}
