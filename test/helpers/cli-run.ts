import { execFile } from 'node:child_process';
import { CLI } from './agent-process.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunCliOptions {
  timeoutMs?: number;
  /** Written to the CLI's stdin, which is then closed (e.g. a password for --password-stdin). */
  input?: string;
}

/** Runs the built `outpost` CLI against an API; never throws on a non-zero exit. */
export function runCli(args: readonly string[], api: { url: string; token: string }, options: number | RunCliOptions = {}): Promise<CliResult> {
  return runCliEnv(args, { OUTPOST_API: api.url, OUTPOST_TOKEN: api.token }, options);
}

/** Runs the built `outpost` CLI with exactly this environment (plus PATH); never throws on a non-zero exit. */
export function runCliEnv(
  args: readonly string[],
  env: Record<string, string | undefined>,
  options: number | RunCliOptions = {},
  cwd?: string,
): Promise<CliResult> {
  const { timeoutMs = 120_000, input } = typeof options === 'number' ? { timeoutMs: options } : options;
  return new Promise((done) => {
    const child = execFile(
      process.execPath,
      [CLI, ...args],
      { env: { PATH: process.env.PATH, ...env } as NodeJS.ProcessEnv, timeout: timeoutMs, maxBuffer: 8 * 1024 * 1024, ...(cwd ? { cwd } : {}) },
      (err, stdout, stderr) => done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input ?? '');
  });
}
