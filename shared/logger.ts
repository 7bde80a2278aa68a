import { pino, type Logger, type LoggerOptions } from 'pino';
import { redactUrl } from './redact-url.js';

export type { Logger };

/** Paths never written to logs, whatever the level. */
export const REDACT_PATHS = [
  'password',
  'secret',
  'token',
  '*.password',
  '*.secret',
  '*.token',
  'auth',
  '*.auth',
  'config.password',
  'config.secret',
  'headers.authorization',
  'registryAuth',
  '*.registryAuth',
  '*.*.registryAuth',
];

/**
 * Top-level string fields of a log call with a password in a URL
 * (redis://:pass@host), masked: a second line of defence behind redactUrl at
 * the call sites (child-logger bindings are not covered: redact them where
 * they are made). Only strings that can hold such a URL are looked at.
 */
export function redactUrlFields<T extends Record<string, unknown>>(object: T): T {
  let out: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(object)) {
    if (typeof value !== 'string' || !value.includes('://') || !value.includes('@')) continue;
    const redacted = redactUrl(value);
    if (redacted !== value) (out ??= { ...object })[key] = redacted;
  }
  return (out ?? object) as T;
}

export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  const opts: LoggerOptions = {
    level: options.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: options.name ? { name: options.name } : {},
    formatters: { log: redactUrlFields },
  };
  return pino(opts);
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
