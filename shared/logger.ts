import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { z } from 'zod';
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

/**
 * `auto` (the default): human-readable lines when the destination is a
 * terminal, JSON otherwise (files, pipes, journald, tests). `json`/`pretty`
 * force one (`--log-format`, env OUTPOST_LOG_FORMAT).
 */
export const LogFormat = z.enum(['auto', 'json', 'pretty']);
export type LogFormat = z.infer<typeof LogFormat>;

/** Where log lines go: stdout unless a test or a caller passes another stream. */
export interface LogDestination {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export interface CreateLoggerOptions {
  level?: string;
  name?: string;
  format?: LogFormat;
  destination?: LogDestination;
}

export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const opts: LoggerOptions = {
    level: options.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: options.name ? { name: options.name } : {},
    formatters: { log: redactUrlFields },
  };
  const target = options.destination ?? process.stdout;
  const format = options.format ?? 'auto';
  if (format === 'pretty' || (format === 'auto' && target.isTTY === true)) {
    return pino(opts, prettyDestination(options.destination, target.isTTY === true));
  }
  return options.destination ? pino(opts, options.destination as DestinationStream) : pino(opts);
}

type PrettyFactory = (options: Record<string, unknown>) => (line: string) => string;

/**
 * pino-pretty's formatter applied in the writing call: no worker thread, no
 * transform stream, nothing lost at exit. Loaded with require() only here so
 * the agent bundle (scripts/bundle-agent.ts) neither contains nor loads it
 * unless pretty output is chosen.
 */
function prettyDestination(destination: LogDestination | undefined, colorize: boolean): DestinationStream {
  const require = createRequire(import.meta.url);
  const { prettyFactory } = require('pino-pretty') as { prettyFactory: PrettyFactory };
  const prettify = prettyFactory({ colorize, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
  const out = destination ?? pino.destination({ dest: 1, sync: true });
  return { write: (line: string) => void out.write(prettify(line)) };
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
