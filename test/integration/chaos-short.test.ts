import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ChaosResult } from '../../bench/chaos/chaos-run.js';
import { FAULT_KINDS } from '../../bench/chaos/fault-plan.js';
import { CLI } from '../helpers/agent-process.js';
import { spawnProcess } from '../helpers/process.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

/**
 * Issue 13: the chaos run (bench/chaos/run.ts) at CI size — 20 simulated
 * devices, 40 s of faults, seed 514, whose plan holds every kind of fault
 * (F1–F8, F10; F9 is an hour of clock skew on a share of the devices
 * throughout) before the last 10 s, so the heal is not a kill's restart. The run must exit 0 and its history checker count nothing
 * lost, duplicated or unexpected. A failure prints the seed; the same
 * arguments repeat the same plan. The 30-minute run is the same program with
 * --duration 30m (bench/results/chaos-30m.json).
 */
describe('chaos run, short and seeded', () => {
  let dir: TempDir | undefined;
  afterAll(async () => {
    await dir?.remove();
  });

  it('injects every kind of fault and the checker counts 0 lost, 0 duplicated, 0 unexpected', { timeout: 240_000 }, async () => {
    dir = await makeTempDir('chaos-short');
    const out = join(dir.path, 'chaos.json');
    const runner = join(CLI, '..', '..', 'bench', 'chaos', 'run.js');
    const args = [runner, '--duration', '40s', '--seed', '514', '--devices', '20', '--group-size', '4', '--fault-gap', '2500ms', '--out', out];
    const proc = spawnProcess(process.execPath, { name: 'chaos', args, bufferLines: 5_000 });
    const exit = await proc.waitForExit(230_000);
    expect(exit.code, proc.output()).toBe(0);

    const result = JSON.parse(await readFile(out, 'utf8')) as ChaosResult;
    expect(result.seed).toBe(514);
    for (const kind of FAULT_KINDS) expect(result.faults[kind], kind).toBeGreaterThan(0);
    expect(result.skewedDevices).toBeGreaterThan(0);
    expect(result.faultErrors).toEqual([]);
    expect(result.changes.deployments + result.changes.rollouts).toBeGreaterThan(3);
    expect(result.versionsPublished).toBeGreaterThan(result.devices);
    expect(result.convergeAfterHealS).not.toBeNull();
    expect(result.checker).toEqual({ devices: 20, lost: 0, duplicated: 0, unexpected: 0, problems: [] });
    expect(proc.output()).toMatch(/\| devices \| releases \| deployments \|/);
  });
});
