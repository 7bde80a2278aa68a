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
