import { describe } from './format.js';
import type { Issues, Json } from './types.js';

export function restartPolicy(value: unknown): Json {
  if (value === false) return { restart: 'no' };
  const m = typeof value === 'string' ? /^on-failure:(\d+)$/.exec(value) : null;
  return m ? { restart: 'on-failure', restartMaxRetries: Number(m[1]) } : { restart: value };
}

export function pullPolicy(value: unknown, here: string, issues: Issues): string | undefined {
  if (value === 'always') return 'always';
  if (value === 'missing' || value === 'if_not_present' || value === 'if-not-present') return 'if-not-present';
  issues.push(`${here}: ${describe(value)} is not supported; use always or missing`);
  return undefined;
}
