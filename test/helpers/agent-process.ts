import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { spawnProcess, type ManagedProcess } from './process.js';

/** The directory holding package.json above this file: test/helpers/ in vitest, dist/test/helpers/ when a benchmark runs it compiled. */
function repoRoot(from: string): string {
  for (let dir = from; dir !== dirname(dir); dir = dirname(dir)) if (existsSync(join(dir, 'package.json'))) return dir;
  throw new Error(`no package.json above ${from}`);
}

const REPO_ROOT = repoRoot(dirname(fileURLToPath(import.meta.url)));
/** The built CLI; `npm test` builds before vitest runs. */
export const CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');

export interface AgentProcessOptions {
  deviceId: string;
  brokerUrl: string;
  /** The secret itself (env), or '' with `secretFile`. */
  secret: string;
  /** Read at every connection attempt: a rotated secret written there is picked up. */
  secretFile?: string;
  /**
   * The controller's signing key(s) (DD-026). Without it the agent runs as
   * in an unsigned fleet (--accept-unsigned): most device-plane tests
   * publish hand-made, unsigned documents.
   */
  trustFile?: string;
  stateDir: string;
  /** `--profile NAME`; its keepalive then applies instead of the tests' short one. */
  profile?: 'default' | 'cellular';
  /**
   * 'test' (default): fast reconnects and retries, a short settle window, a
   * resync every 5 s and debug logs; 'agent': the agent's own defaults (and
   * its profile's), as on a device — what a benchmark measures.
   */
  timings?: 'test' | 'agent';
  extraArgs?: readonly string[];
  env?: Record<string, string | undefined>;
  /** Output lines kept (default 400); raise it to keep a whole run's output. */
  bufferLines?: number;
  /**
   * A command the agent runs under, e.g. `['ip', 'netns', 'exec', ns]` to put it in a network
   * namespace; it must exec the agent (the PID stays the agent's, so stop() and kill() reach it).
   */
  launcher?: readonly string[];
}

const TEST_TIMINGS = [
  '--settle-ms',
  '300',
  '--reconnect-base-ms',
  '200',
  '--reconnect-cap-ms',
  '2000',
  '--retry-base-ms',
  '500',
  '--retry-cap-ms',
  '3000',
  '--resync-interval',
  '5',
];

/**
 * The `outpost agent ...` command line (without node and the CLI path) for
 * these options: what a host process (startAgent) and an agent container
 * (tc-agents.ts) both run.
 */
export function agentCommandArgs(opts: AgentProcessOptions): string[] {
  return [
    'agent',
    '--device',
    opts.deviceId,
    '--broker',
    opts.brokerUrl,
    '--state-dir',
    opts.stateDir,
    ...(opts.timings === 'agent' ? [] : TEST_TIMINGS),
    ...(opts.profile ? ['--profile', opts.profile] : opts.timings === 'agent' ? [] : ['--keepalive', '10']),
    '--log-level',
    opts.timings === 'agent' ? 'info' : 'debug',
    ...(opts.secretFile ? ['--secret-file', opts.secretFile] : []),
    ...(opts.trustFile ? ['--trust', opts.trustFile] : ['--accept-unsigned']),
    ...(opts.extraArgs ?? []),
  ];
}

/**
 * A real `outpost agent` process with test-friendly timings (fast reconnect,
 * short settle window). Resolves once the agent logged that it started.
 */
export async function startAgent(opts: AgentProcessOptions): Promise<ManagedProcess> {
  const [command, ...launcherArgs] = [...(opts.launcher ?? []), process.execPath];
  const proc = spawnProcess(command ?? process.execPath, {
    name: `agent ${opts.deviceId}`,
    args: [...launcherArgs, CLI, ...agentCommandArgs(opts)],
    env: { OUTPOST_DEVICE_SECRET: opts.secretFile ? undefined : opts.secret, ...(opts.env ?? {}) },
    bufferLines: opts.bufferLines ?? 400,
  });
  await proc.waitForLine(/"msg":"agent started"/, 20_000).catch((err: unknown) => {
    throw new Error(`agent did not start: ${(err as Error).message}\n${proc.output()}`);
  });
  return proc;
}
