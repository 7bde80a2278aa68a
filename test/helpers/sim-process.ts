import { CLI } from './agent-process.js';
import { spawnProcess, type ManagedProcess } from './process.js';

export interface SimProcessOptions {
  api: { url: string; token: string };
  brokerUrl: string;
  /** More `outpost sim` flags (--devices is among them). */
  args: readonly string[];
}

/**
 * A real `outpost sim` process against a control plane, reading the fleet
 * every 0.5 s. Resolves once it is spawned; callers wait for its lines.
 */
export async function startSim(opts: SimProcessOptions): Promise<ManagedProcess> {
  return spawnProcess(process.execPath, {
    name: 'outpost sim',
    args: [CLI, 'sim', '--broker', opts.brokerUrl, '--progress-interval', '0.5', ...opts.args],
    env: { OUTPOST_API: opts.api.url, OUTPOST_TOKEN: opts.api.token },
    bufferLines: 2000,
    stopGraceMs: 30_000,
  });
}
