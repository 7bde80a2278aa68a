/**
 * `npm run bench`: every benchmark, one after the other, each in its own
 * process at its default sizes (or `--smoke`: tiny sizes, for CI, so none can
 * rot). Each benchmark prints its JSON, then its markdown tables; this runner
 * passes their output through, collects the JSON of each into one document
 * (`--out FILE`, default bench/results/latest.json) and exits non-zero if any
 * failed. `--only a,b` runs a subset.
 * Usage: node dist/bench/run-all.js [--smoke] [--only controller-scale] [--out FILE]
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface Benchmark {
  name: string;
  /** Compiled script beside this one. */
  script: string;
  args: string[];
  smokeArgs: string[];
}

const BENCHMARKS: Benchmark[] = [
  // Every target (Outpost broker, Outpost-on-Mosquitto, plain Mosquitto) × both client kinds (raw, simulated agents).
  // Default: dynsec devices written into its file (created as commands, 2,000 took ~9 min on a loaded machine);
  // the smoke creates them as commands, as enrolment does.
  {
    name: 'broker-storm',
    script: 'broker-storm.js',
    args: ['--devices', '2000', '--dynsec-setup', 'file'],
    smokeArgs: ['--devices', '30', '--deadline-s', '60'],
  },
  { name: 'publish-fanout', script: 'publish-fanout.js', args: ['10000'], smokeArgs: ['200'] },
  { name: 'controller-scale', script: 'controller-scale.js', args: ['--devices', '100000'], smokeArgs: ['--devices', '300', '--small', '100', '--reps', '3'] },
  // 10,000 simulated devices are an option (--devices 1000,10000): bringing them up takes longer than a default run may.
  { name: 'rollout-convergence', script: 'rollout-convergence.js', args: ['--devices', '1000'], smokeArgs: ['--devices', '20', '--setup-timeout-s', '120', '--deadline-s', '120'] },
  { name: 'latency', script: 'latency.js', args: ['--devices', '1000', '--samples', '200'], smokeArgs: ['--devices', '20', '--samples', '20', '--setup-timeout-s', '120'] },
];

const here = dirname(fileURLToPath(import.meta.url));

/** The JSON a benchmark printed first (everything before its first table). */
function jsonOf(stdout: string): unknown {
  const end = stdout.search(/\n\s*\n\|/);
  return JSON.parse(end === -1 ? stdout : stdout.slice(0, end));
}

function run(bench: Benchmark, smoke: boolean): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(here, bench.script), ...(smoke ? bench.smokeArgs : bench.args)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      process.stdout.write(chunk);
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout }));
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { smoke: { type: 'boolean', default: false }, only: { type: 'string' }, out: { type: 'string' } } });
  const only = values.only?.split(',').map((s) => s.trim());
  const unknown = only?.filter((n) => !BENCHMARKS.some((b) => b.name === n)) ?? [];
  if (unknown.length) throw new Error(`unknown benchmark ${unknown.join(', ')} (known: ${BENCHMARKS.map((b) => b.name).join(', ')})`);
  const selected = BENCHMARKS.filter((b) => !only || only.includes(b.name));
  const results: Record<string, unknown> = {};
  const failed: string[] = [];
  for (const bench of selected) {
    process.stdout.write(`\n## ${bench.name}${values.smoke ? ' (smoke size)' : ''}\n\n`);
    const t0 = performance.now();
    const { code, stdout } = await run(bench, values.smoke);
    let json: unknown = null;
    try {
      json = jsonOf(stdout);
    } catch {
      // reported below as a failure
    }
    if (code !== 0 || json === null) failed.push(`${bench.name} (exit ${code}${json === null ? ', no JSON' : ''})`);
    results[bench.name] = { exitCode: code, seconds: Math.round((performance.now() - t0) / 100) / 10, result: json };
  }
  const out = values.out ?? join(here, '..', '..', 'bench', 'results', values.smoke ? 'smoke.json' : 'latest.json');
  await mkdir(dirname(out), { recursive: true });
  const machine = { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30) };
  await writeFile(out, `${JSON.stringify({ at: new Date().toISOString(), smoke: values.smoke, machine, results }, null, 2)}\n`);
  process.stdout.write(`\nresults: ${out}\n`);
  if (failed.length) {
    process.stderr.write(`failed: ${failed.join('; ')}\n`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
