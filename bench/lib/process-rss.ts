import { readFile } from 'node:fs/promises';

/** Resident set size of a process (Linux /proc/PID/status VmRSS), in bytes. */
export async function readRssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kb) * 1024;
}

/** Samples a process's RSS every `intervalMs` until stopped; `peak` is the highest seen. */
export function sampleRss(pid: number, intervalMs = 100): { readonly peak: number; stop(): Promise<number> } {
  let peak = 0;
  let reading: Promise<void> = Promise.resolve();
  const tick = (): void => {
    reading = readRssBytes(pid).then(
      (rss) => {
        peak = Math.max(peak, rss);
      },
      () => undefined, // the process ended: keep the peak seen so far
    );
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  return {
    get peak() {
      return peak;
    },
    async stop() {
      clearInterval(timer);
      await reading;
      return peak;
    },
  };
}
