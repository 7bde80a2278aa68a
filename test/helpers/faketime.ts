import { existsSync } from 'node:fs';

/** Where Debian's libfaketime package puts the preload library (scripts/bootstrap-debian.sh installs `faketime`). */
const CANDIDATES = [
  '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/faketime/libfaketime.so.1',
];

export function libfaketime(): string {
  const found = CANDIDATES.find((p) => existsSync(p));
  if (!found) throw new Error(`libfaketime not found (apt-get install faketime); looked in ${CANDIDATES.join(', ')}`);
  return found;
}

/**
 * Environment that runs a process (an agent) on a fake clock: `spec` is
 * libfaketime's FAKETIME, e.g. '+1h' (an hour ahead), '-1h', or '+0 x60'
 * (starts now, runs 60 times fast). Verified with Node 20: Date, the
 * monotonic clock and therefore libuv's timers (setTimeout, back-off) all
 * follow it; only this process is affected, not Docker or the broker.
 */
export function fakeTimeEnv(spec: string): Record<string, string> {
  return { LD_PRELOAD: libfaketime(), FAKETIME: spec };
}

/**
 * A fake clock that starts at `startMs` (UTC) and runs `rate` times fast: a
 * device rebooting keeps its clock where it was instead of jumping back to
 * the host's (each process under '+0 xN' would start at the host's time).
 */
export function fakeTimeFrom(startMs: number, rate: number): Record<string, string> {
  const at = new Date(startMs).toISOString().slice(0, 19).replace('T', ' ');
  return { LD_PRELOAD: libfaketime(), FAKETIME: `@${at} x${rate}`, TZ: 'UTC' };
}

/** The pino `time` (ms, the process's own clock) of each JSON log line whose msg is `msg`, in order. */
export function logTimes(output: string, msg: string): number[] {
  const times: number[] = [];
  for (const line of output.split('\n')) {
    if (!line.includes(`"msg":"${msg}"`)) continue;
    const m = /"time":(\d+)/.exec(line);
    if (m) times.push(Number(m[1]));
  }
  return times;
}

/** The process's own clock at its last JSON log line. */
export function lastLogTime(output: string): number | null {
  const all = [...output.matchAll(/"time":(\d+)/g)];
  const last = all.at(-1);
  return last ? Number(last[1]) : null;
}
