import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deferModule } from '../../agent/runtime/dockerode-lean.js';
import { CLI } from '../helpers/agent-process.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

const require = createRequire(import.meta.url);
const run = promisify(execFile);
/** The built agent runtime (`npm test` builds before vitest runs). */
const DOCKER_RUNTIME = join(CLI, '..', '..', 'agent', 'runtime', 'docker-runtime.js');

/** Issue 11: the agent loads dockerode without ssh2, gRPC or protobuf. */
describe('lean dockerode', () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await makeTempDir('dockerode-lean');
  });
  afterAll(async () => {
    await dir?.remove();
  });

  it('a deferred module loads on its first call only, and forwards arguments, this and the result', async () => {
    const real = join(dir.path, 'expensive.cjs');
    const user = join(dir.path, 'user.cjs');
    await writeFile(real, 'globalThis.__loads = (globalThis.__loads ?? 0) + 1;\nmodule.exports = function (a, b) { return [this && this.tag, a + b]; };\n');
    await writeFile(user, "const f = require('./expensive.cjs');\nmodule.exports = { call: (a, b) => f.call({ tag: 'me' }, a, b) };\n");
    const g = globalThis as { __loads?: number };
    delete g.__loads;

    expect(deferModule(real)).toBe(true);
    const { call } = require(user) as { call: (a: number, b: number) => unknown };
    expect(g.__loads).toBeUndefined();
    expect(call(2, 3)).toEqual(['me', 5]);
    expect(g.__loads).toBe(1);
    expect(call(4, 5)).toEqual(['me', 9]);
    expect(g.__loads).toBe(1);
    // Loaded for real now: deferring it again changes nothing.
    expect(deferModule(real)).toBe(false);
    expect(require(real)).not.toBe(undefined);
  });

  it('the Docker runtime talks to the engine without loading ssh2, @grpc or protobufjs', async () => {
    const script = `
      import { createRequire } from 'node:module';
      const { DockerRuntime } = await import(${JSON.stringify(DOCKER_RUNTIME)});
      const runtime = new DockerRuntime();
      await runtime.ping();
      const containers = await runtime.listContainers('dockerode-lean-nobody');
      const loaded = Object.keys(createRequire(import.meta.url).cache);
      process.stdout.write(JSON.stringify({
        containers: Array.isArray(containers),
        dockerode: loaded.some((p) => p.includes('/dockerode/')),
        heavy: loaded.filter((p) => /node_modules\\/(ssh2|@grpc|protobufjs|cpu-features)\\//.test(p)),
      }));
    `;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: join(CLI, '..', '..', '..') });
    expect(JSON.parse(stdout)).toEqual({ containers: true, dockerode: true, heavy: [] });
  });
});
