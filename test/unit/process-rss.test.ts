import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { readPeakRssBytes, readRssBytes, sampleRss } from '../../bench/lib/process-rss.js';

describe('process RSS from /proc/<pid>/status', () => {
  it('reads this process resident set size and its high-water mark', async () => {
    const rss = await readRssBytes(process.pid);
    expect(rss).toBeGreaterThan(10 * 1024 * 1024);
    expect(Math.abs(rss - process.memoryUsage().rss)).toBeLessThan(16 * 1024 * 1024);
    expect(await readPeakRssBytes(process.pid)).toBeGreaterThanOrEqual(rss);
  });

  it('rejects for a process that is gone', async () => {
    const child = spawn(process.execPath, ['-e', '']);
    await once(child, 'exit');
    await expect(readRssBytes(child.pid ?? 0)).rejects.toThrow();
  });

  it('samples a process until stopped and keeps the peak, even past its exit', async () => {
    const child = spawn(process.execPath, ['-e', 'const a = Buffer.alloc(64 * 1024 * 1024, 1); setTimeout(() => a.length, 400)']);
    const sampler = sampleRss(child.pid ?? 0, 20);
    await once(child, 'exit');
    await new Promise((r) => setTimeout(r, 50));
    const summary = await sampler.stop();
    expect(summary.samples.length).toBeGreaterThan(3);
    expect(summary.peakBytes).toBeGreaterThan(64 * 1024 * 1024);
    expect(summary.samples.every((s) => s.rssBytes <= summary.peakBytes)).toBe(true);
  });
});
