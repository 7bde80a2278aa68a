import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/agent-process.js';
import { spawnProcess } from '../helpers/process.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

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
    expect(Object.keys(doc.results).sort()).toEqual(['broker-storm', 'controller-scale', 'publish-fanout']);
    for (const [name, r] of Object.entries(doc.results)) {
      expect(r.exitCode, name).toBe(0);
      expect(r.result, name).toEqual(expect.any(Object));
      expect(Object.keys(r.result as object).length, name).toBeGreaterThan(1);
    }
    expect(proc.output()).toMatch(/\|---/);
  });
});
