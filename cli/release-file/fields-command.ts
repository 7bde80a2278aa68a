import { describe } from './format.js';
import type { Issues } from './types.js';

/** Splits a command line on whitespace, honouring '…', "…" and backslash escapes (no variables, no globs). */
export function splitCommandLine(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charAt(i);
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === '\\' && quote === '"' && (text[i + 1] === '"' || text[i + 1] === '\\')) word += text.charAt(++i);
      else word += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < text.length) {
      word += text.charAt(++i);
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} quote`);
  if (inWord) words.push(word);
  return words;
}

export function commandLine(value: unknown, here: string, issues: Issues): unknown {
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'number' ? String(v) : v));
  if (typeof value !== 'string') {
    issues.push(`${here}: expected a string or a list of strings, got ${describe(value)}`);
    return undefined;
  }
  try {
    return splitCommandLine(value);
  } catch (err) {
    issues.push(`${here}: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}
