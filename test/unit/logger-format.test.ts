import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { createLogger, LogFormat, type LogDestination } from '../../shared/logger.js';

/** A stream that records what it is given, optionally claiming to be a terminal. */
function sink(isTTY: boolean): LogDestination & { lines: string[] } {
  const lines: string[] = [];
  return { isTTY, lines, write: (chunk: string) => lines.push(chunk) };
}

describe('createLogger output format', () => {
  it('writes readable lines to a terminal in auto mode', () => {
    const out = sink(true);
    createLogger({ name: 'agent', destination: out }).info({ deviceId: 'pump-17' }, 'connected');
    const text = out.lines.join('');
    expect(text).toContain('connected');
    expect(text).toContain('deviceId');
    expect(text).toContain('pump-17');
    expect(() => JSON.parse(text) as unknown).toThrow();
  });

  it('writes one JSON object per line when the destination is not a terminal', () => {
    const out = sink(false);
    createLogger({ name: 'agent', destination: out }).info({ deviceId: 'pump-17' }, 'connected');
    expect(out.lines).toHaveLength(1);
    expect(JSON.parse(out.lines[0] ?? '')).toMatchObject({ name: 'agent', msg: 'connected', deviceId: 'pump-17', level: 30 });
  });

  it('json wins over a terminal and pretty wins over a pipe', () => {
    const tty = sink(true);
    createLogger({ format: 'json', destination: tty }).warn('x');
    expect(JSON.parse(tty.lines[0] ?? '')).toMatchObject({ msg: 'x', level: 40 });
    const pipe = sink(false);
    createLogger({ format: 'pretty', destination: pipe }).warn('slow broker');
    expect(pipe.lines.join('')).toMatch(/WARN.*slow broker/);
  });

  it('redacts secrets in pretty output as in JSON', () => {
    const out = sink(true);
    createLogger({ destination: out }).info({ password: 'hunter2', url: 'redis://:hunter2@host:6379' }, 'x');
    const text = out.lines.join('');
    expect(text).not.toContain('hunter2');
    expect(text).toContain('[redacted]');
  });

  it('refuses an unknown format', () => {
    expect(LogFormat.safeParse('yaml').success).toBe(false);
  });

  it('keeps pino-pretty out of the agent bundle (loaded only when pretty is chosen)', () => {
    const bundle = readFileSync(new URL('../../dist/agent/main.bundle.js', import.meta.url), 'utf8');
    expect(bundle).toMatch(/require\d*\("pino-pretty"\)/);
    // pino-pretty's own modules (its colorette and its message formatter) are not inlined.
    expect(bundle).not.toMatch(/colorette|messageFormat:|function prettyFactory/);
  });
});
