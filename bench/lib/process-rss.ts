import { readFile } from 'node:fs/promises';

/** One reading of a process's resident set size. */
export interface RssSample {
  /** Epoch milliseconds of the reading. */
  readonly atMs: number;
  readonly rssBytes: number;
}

/** What a sampler saw between its start and stop(). */
export interface RssSummary {
  /** Highest sampled VmRSS (0 if the process was gone from the start). */
  readonly peakBytes: number;
  /** The last sampled VmRSS (0 if none). */
  readonly lastBytes: number;
  readonly samples: readonly RssSample[];
}

export interface RssSampler {
  /** Stops sampling (one last reading first, if the process is alive) and returns every reading. */
  stop(): Promise<RssSummary>;
}

async function statusField(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
  if (!m) throw new Error(`/proc/${pid}/status has no ${field} line (a zombie or kernel thread?)`);
  return Number(m[1]) * 1024;
}

/** Resident set size of a live process, in bytes (/proc/<pid>/status VmRSS). Rejects if the process is gone. */
export function readRssBytes(pid: number): Promise<number> {
  return statusField(pid, 'VmRSS');
}

/**
 * The kernel's high-water mark of the process's resident set size since it
 * started, in bytes (/proc/<pid>/status VmHWM): a peak no sampling interval
 * can miss. Rejects if the process is gone.
 */
export function readPeakRssBytes(pid: number): Promise<number> {
  return statusField(pid, 'VmHWM');
}

/**
 * Reads VmRSS of `pid` every `intervalMs` until stop(). Readings after the
 * process exited are skipped, not errors: a sampler may outlive its process.
 */
export function sampleRss(pid: number, intervalMs = 100): RssSampler {
  const samples: RssSample[] = [];
  let stopped = false;
  let pending: Promise<void> = Promise.resolve();
  const take = (): Promise<void> =>
    readRssBytes(pid).then(
      (rssBytes) => {
        samples.push({ atMs: Date.now(), rssBytes });
      },
      () => undefined,
    );
  const tick = (): void => {
    if (stopped) return;
    pending = take().then(() => {
      if (!stopped) timer = setTimeout(tick, intervalMs);
    });
  };
  let timer: NodeJS.Timeout | undefined;
  tick();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await pending;
      await take();
      return {
        peakBytes: samples.reduce((max, s) => Math.max(max, s.rssBytes), 0),
        lastBytes: samples.at(-1)?.rssBytes ?? 0,
        samples,
      };
    },
  };
}
