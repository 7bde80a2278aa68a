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

/** The part of an agent-link profile the smoke checks. */
interface LinkProfile {
  measurement: { keepaliveS: number; update: { ledger: { desired: { messages: number } } } };
  updates: { reports: number };
  budget: { monthly: { total: { mqtt: number; tls: number } } };
  rss: { idleMiB: number };
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
    expect(Object.keys(doc.results).sort()).toEqual(['agent-link', 'broker-storm', 'controller-scale', 'latency', 'publish-fanout', 'rollout-convergence']);
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
    // The link budget: both profiles measured on a real agent, with its memory.
    const link = doc.results['agent-link']?.result as { profiles: Record<string, LinkProfile> };
    expect(Object.keys(link.profiles).sort()).toEqual(['cellular', 'default']);
    for (const [name, p] of Object.entries(link.profiles)) {
      expect(p.measurement.keepaliveS, name).toBe(name === 'cellular' ? 300 : 60);
      expect(p.measurement.update.ledger.desired.messages, name).toBe(1);
      expect(p.updates.reports, name).toBeGreaterThanOrEqual(1);
      expect(p.budget.monthly.total.tls, name).toBeGreaterThan(p.budget.monthly.total.mqtt);
      expect(p.rss.idleMiB, name).toBeGreaterThan(0);
    }
    expect(storm.ratios.map((r) => `${r.target}×${r.clients}`).sort()).toEqual(['outpost-mosquitto×agent', 'outpost-mosquitto×raw', 'outpost×agent', 'outpost×raw']);
  });
});
