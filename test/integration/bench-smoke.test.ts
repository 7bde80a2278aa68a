import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/agent-process.js';
import { spawnProcess } from '../helpers/process.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

/** The part of a broker-storm combination the smoke checks. */
interface StormCombination {
  target: string;
  clients: string;
  devices: number;
  converged: number;
  lost: number;
  duplicated: number;
  allMs: number | null;
  memory: { rssKBPerConnectedDevice: number; heapKBPerConnectedDevice: number | null };
}

/** Every benchmark of `npm run bench` runs at a smoke size, so none can rot (issue 10). Timings are not asserted. */
describe('benchmarks at smoke size', () => {
  let dir: TempDir | undefined;
  afterAll(async () => {
    await dir?.remove();
  });

  it('each one exits 0 and prints its JSON result and a table', { timeout: 660_000 }, async () => {
    dir = await makeTempDir('bench-smoke');
    const out = join(dir.path, 'smoke.json');
    const runner = join(CLI, '..', '..', 'bench', 'run-all.js');
    const proc = spawnProcess(process.execPath, { name: 'bench', args: [runner, '--smoke', '--out', out], bufferLines: 5_000 });
    const exit = await proc.waitForExit(600_000);
    expect(exit.code, proc.output()).toBe(0);
    const doc = JSON.parse(await readFile(out, 'utf8')) as { smoke: boolean; results: Record<string, { exitCode: number; result: unknown }> };
    expect(doc.smoke).toBe(true);
    expect(Object.keys(doc.results).sort()).toEqual(['broker-storm', 'controller-scale', 'latency', 'publish-fanout', 'rollout-convergence']);
    for (const [name, r] of Object.entries(doc.results)) {
      expect(r.exitCode, name).toBe(0);
      expect(r.result, name).toEqual(expect.any(Object));
      expect(Object.keys(r.result as object).length, name).toBeGreaterThan(1);
    }
    expect(proc.output()).toMatch(/\|---/);

    // The simulated-fleet benchmarks: every device converged, every sample complete, no failure.
    const distribution = { n: expect.any(Number), p50Ms: expect.any(Number), p99Ms: expect.any(Number), maxMs: expect.any(Number) };
    const rollout = doc.results['rollout-convergence']?.result as { results: unknown[] };
    expect(rollout.results).toEqual([
      expect.objectContaining({
        devices: 20,
        succeeded: 20,
        failures: 0,
        rolloutMs: expect.any(Number),
        publish: { ...distribution, n: 20 },
        applied: { ...distribution, n: 20 },
        controllerCpuS: expect.any(Number),
        brokerCpuS: expect.any(Number),
      }),
    ]);
    const latency = doc.results.latency?.result as { stages: Record<string, unknown> };
    expect(latency).toMatchObject({ devices: 20, samples: 20, failures: 0 });
    for (const stage of ['apiToPublished', 'publishedToReceived', 'receivedToReconciled', 'total']) {
      expect(latency.stages[stage], stage).toEqual({ ...distribution, n: 20 });
    }

    // The storm ran every target with both client kinds, and every combination converged completely.
    const storm = doc.results['broker-storm']?.result as { results: StormCombination[]; ratios: Array<{ target: string; clients: string }> };
    const combinations = storm.results.map((r) => `${r.target}×${r.clients}`).sort();
    expect(combinations).toEqual(['mosquitto×agent', 'mosquitto×raw', 'outpost-mosquitto×agent', 'outpost-mosquitto×raw', 'outpost×agent', 'outpost×raw']);
    for (const r of storm.results) {
      const name = `${r.target}×${r.clients}`;
      expect({ name, lost: r.lost, duplicated: r.duplicated, converged: r.converged }).toEqual({ name, lost: 0, duplicated: 0, converged: r.devices });
      expect(r.allMs, name).toEqual(expect.any(Number));
      expect(r.memory.rssKBPerConnectedDevice, name).toEqual(expect.any(Number));
      if (r.target === 'outpost') expect(r.memory.heapKBPerConnectedDevice, name).toEqual(expect.any(Number));
    }
    expect(storm.ratios.map((r) => `${r.target}×${r.clients}`).sort()).toEqual(['outpost-mosquitto×agent', 'outpost-mosquitto×raw', 'outpost×agent', 'outpost×raw']);
  });
});
