import { pino, type Logger, type LoggerOptions } from 'pino';

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

export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  const opts: LoggerOptions = {
    level: options.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: options.name ? { name: options.name } : {},
  };
  return pino(opts);
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
