import { seconds } from './fields-values.js';
import { isRecord, type Issues, type Json } from './types.js';

const HEALTH_DURATIONS: Record<string, string> = {
  interval: 'intervalSeconds',
  timeout: 'timeoutSeconds',
  start_period: 'startPeriodSeconds',
};

/**
 * Compose `healthcheck` → a `cmd` health check. `test` is `["CMD", …]`,
 * `["CMD-SHELL", "…"]` or a string (shell form). Disabling the image's own
 * check has no equivalent: without a check the image's HEALTHCHECK counts.
 */
export function healthCheck(value: unknown, here: string, issues: Issues): Json | undefined {
  if (!isRecord(value)) {
    issues.push(`${here}: expected a map with test, interval, timeout, retries, start_period`);
    return undefined;
  }
  const out: Json = { type: 'cmd' };
  for (const [k, v] of Object.entries(value)) {
    const at = `${here}.${k}`;
    const field = HEALTH_DURATIONS[k];
    if (k === 'test') {
      const [form, ...rest] = typeof v === 'string' ? ['CMD-SHELL', v] : Array.isArray(v) ? v : [];
      if (form === 'CMD' && rest.length) out.command = rest.map(String);
      else if (form === 'CMD-SHELL' && rest.length === 1) out.command = ['/bin/sh', '-c', String(rest[0])];
      else if (form === 'NONE') issues.push(`${at}: disabling the image's health check is not supported; leave healthcheck out`);
      else issues.push(`${at}: expected ["CMD", "prog", "arg"...], ["CMD-SHELL", "command"] or a command string`);
    } else if (field) out[field] = seconds(v, at, issues);
    else if (k === 'retries') out.retries = v;
    else if (k === 'disable' && v === true) issues.push(`${at}: disabling the image's health check is not supported; leave healthcheck out`);
    else issues.push(`${at}: not supported in a health check (use test, interval, timeout, retries, start_period)`);
  }
  if (out.command === undefined && !('test' in value)) issues.push(`${here}.test: required (the command that exits 0 when healthy)`);
  return out;
}
