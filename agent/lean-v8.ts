import { setFlagsFromString } from 'node:v8';

/**
 * V8 settings that trade the agent's peak JavaScript speed for memory
 * (issue 11: ≤ 60 MB RSS idle with three workloads). The agent spends its
 * life waiting on MQTT and the Docker socket; its hot paths are short.
 *
 * - `--no-opt`: no TurboFan. Optimising compiles during start-up (zod
 *   schemas, mqtt) leave ~10 MB of compiler memory and touch ~4 MB more of
 *   the node binary's pages.
 * - `--no-sparkplug`: no baseline machine code either; bytecode only.
 * - `--optimize-for-size`: V8's heap heuristics for small devices (a
 *   smaller young generation, slower heap growth).
 *
 * All three are read by V8 as it goes, so they take effect when set at run
 * time, before the agent's modules load; no node command-line flag or
 * re-exec is needed. (`--jitless`, `--lite-mode`, `--max-semi-space-size`
 * and the GC threading flags only work on the command line.)
 */
export const LEAN_V8_FLAGS: readonly string[] = ['--no-opt', '--no-sparkplug', '--optimize-for-size'];

/** Applies LEAN_V8_FLAGS; call before importing the agent's modules. */
export function applyLeanV8Flags(setFlags: (flags: string) => void = setFlagsFromString): void {
  for (const flag of LEAN_V8_FLAGS) setFlags(flag);
}
