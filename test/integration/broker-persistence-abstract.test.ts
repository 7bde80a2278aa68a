import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { spawnProcess } from '../helpers/process.js';
import { startRedis } from '../helpers/redis.js';

/**
 * DD-028: Outpost's aedes persistence passes aedes-persistence's own abstract
 * suite, the one every aedes persistence runs, under `node --test` (its
 * runner), against a real Redis. Uses the build in dist/ (npm run build).
 */
const RUNNER = fileURLToPath(new URL('../helpers/aedes-persistence-abstract.mjs', import.meta.url));

/** Every test() in the installed abstract.js: all of them must run and pass. */
function abstractTestCount(): number {
  const file = createRequire(import.meta.url).resolve('aedes-persistence/abstract.js');
  return readFileSync(file, 'utf8').match(/^\s+test\('/gm)?.length ?? 0;
}

function tapCount(output: string, name: 'tests' | 'pass' | 'fail'): number | undefined {
  const match = new RegExp(`^out\\|# ${name} (\\d+)$`, 'm').exec(output);
  return match ? Number(match[1]) : undefined;
}

describe('aedes-persistence abstract suite', () => {
  it.each([
    ['stored in clear', {}],
    ['sealed with a store key (DD-047)', { STORE_KEY: randomBytes(32).toString('base64') }],
  ])('passes every test of aedes-persistence 11 against OutpostPersistence on a real Redis, %s', async (_, storeKey) => {
    const expected = abstractTestCount();
    expect(expected).toBeGreaterThanOrEqual(50);
    const redis = await startRedis();
    onTestFinished(() => redis.stop());
    const run = spawnProcess(process.execPath, {
      name: 'node --test (aedes-persistence abstract)',
      args: ['--test', '--test-reporter=tap', RUNNER],
      env: { REDIS_URL: redis.url, ...storeKey },
      bufferLines: 20_000,
    });
    onTestFinished(async () => void (await run.stop()));
    const exit = await run.waitForExit(120_000);
    const output = run.output();
    expect({ code: exit.code, tests: tapCount(output, 'tests'), pass: tapCount(output, 'pass'), fail: tapCount(output, 'fail') }, output.slice(-4000)).toEqual({
      code: 0,
      tests: expected,
      pass: expected,
      fail: 0,
    });
  }, 150_000);
});
