import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../shared/logger.js';

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A debug-level pino logger whose JSON lines are collected in `logs`, for asserting on what a component logged. */
export function captureLogs(): { logger: Logger; logs: LogLine[] } {
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as LogLine);
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), logs };
}
