import type { z } from 'zod';
import { parseSelector, SelectorError, type Selector } from '../desired-state/selector.js';
import { ControllerError } from '../errors.js';

/** One REQUEST_INVALID naming every bad field. */
export function invalid(issues: readonly z.core.$ZodIssue[], prefix?: string): ControllerError {
  const text = issues.map((i) => `${[prefix, ...i.path].filter((p) => p !== undefined && p !== '').join('.') || 'body'}: ${i.message}`).join('; ');
  return new ControllerError('REQUEST_INVALID', text);
}

export function selectorOf(text: string): Selector {
  try {
    return parseSelector(text);
  } catch (err) {
    if (err instanceof SelectorError) throw new ControllerError('SELECTOR_INVALID', err.message);
    throw err;
  }
}
