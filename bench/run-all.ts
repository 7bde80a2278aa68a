/**
 * `npm run bench`: every benchmark, one after the other, each in its own
 * process at its default sizes (a few minutes in all), or `--full`: the sizes
 * issue 10 names (most of an hour), or `--smoke`: tiny sizes, for CI, so none
 * can rot. Each benchmark prints its JSON, then its markdown tables; this runner
 * passes their output through, collects the JSON of each into one document
 * (`--out FILE`, default bench/results/latest.json, full.json or smoke.json)
 * and exits non-zero if any failed. `--only a,b` runs a subset.
 * Usage: node dist/bench/run-all.js [--full | --smoke] [--only controller-scale] [--out FILE]
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
  /** Default sizes: the whole run finishes in a few minutes on a 2-core machine. */
  args: string[];
  /** `--full`: the sizes issue 10 names (10,000-device storm and rollout, 100,000-device controller); most of an hour. */
  fullArgs: string[];
  smokeArgs: string[];
}

type Mode = 'default' | 'full' | 'smoke';

const BENCHMARKS: Benchmark[] = [
  // Every target (Outpost broker, Outpost-on-Mosquitto, plain Mosquitto) × both client kinds (raw, simulated agents).
  // Dynsec devices are written into the plugin's file (creating them as commands rewrites the file after each one:
  // 2,000 took ~9 min); the smoke creates them as commands, as enrolment does.
  {
    name: 'broker-storm',
    script: 'broker-storm.js',
    args: ['--devices', '1000', '--dynsec-setup', 'file'],
    fullArgs: ['--devices', '10000', '--dynsec-setup', 'file', '--broker-workers', '2', '--deadline-s', '600'],
    smokeArgs: ['--devices', '30', '--deadline-s', '60'],
  },
  { name: 'publish-fanout', script: 'publish-fanout.js', args: ['10000'], fullArgs: ['10000'], smokeArgs: ['200'] },
  {
    name: 'controller-scale',
    script: 'controller-scale.js',
    args: ['--devices', '20000', '--small', '1000'],
    fullArgs: ['--devices', '100000'],
    smokeArgs: ['--devices', '300', '--small', '100', '--reps', '3'],
  },
  {
    name: 'rollout-convergence',
    script: 'rollout-convergence.js',
    args: ['--devices', '1000'],
    fullArgs: ['--devices', '1000,10000'],
    smokeArgs: ['--devices', '20', '--setup-timeout-s', '120', '--deadline-s', '120'],
  },
  {
    name: 'latency',
    script: 'latency.js',
    args: ['--devices', '1000', '--samples', '100'],
    fullArgs: ['--devices', '1000', '--samples', '200'],
    smokeArgs: ['--devices', '20', '--samples', '20', '--setup-timeout-s', '120'],
  },
  // Issue 11: one real agent (Docker) per link profile behind a byte-counting relay: MB per device per month, agent RSS.
  { name: 'agent-link', script: 'agent-link.js', args: ['--updates', '5'], fullArgs: ['--updates', '20'], smokeArgs: ['--updates', '1', '--telemetry-samples', '2'] },
];

function argsOf(bench: Benchmark, mode: Mode): string[] {
  return mode === 'smoke' ? bench.smokeArgs : mode === 'full' ? bench.fullArgs : bench.args;
}

const here = dirname(fileURLToPath(import.meta.url));

/** The JSON a benchmark printed first (everything before its first table). */
function jsonOf(stdout: string): unknown {
  const end = stdout.search(/\n\s*\n\|/);
  return JSON.parse(end === -1 ? stdout : stdout.slice(0, end));
}

function run(bench: Benchmark, mode: Mode): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(here, bench.script), ...argsOf(bench, mode)], { stdio: ['ignore', 'pipe', 'inherit'] });
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
  const { values } = parseArgs({
    options: { smoke: { type: 'boolean', default: false }, full: { type: 'boolean', default: false }, only: { type: 'string' }, out: { type: 'string' } },
  });
  if (values.smoke && values.full) throw new Error('--smoke and --full exclude each other');
  const mode: Mode = values.smoke ? 'smoke' : values.full ? 'full' : 'default';
  const only = values.only?.split(',').map((s) => s.trim());
  const unknown = only?.filter((n) => !BENCHMARKS.some((b) => b.name === n)) ?? [];
  if (unknown.length) throw new Error(`unknown benchmark ${unknown.join(', ')} (known: ${BENCHMARKS.map((b) => b.name).join(', ')})`);
  const selected = BENCHMARKS.filter((b) => !only || only.includes(b.name));
  const results: Record<string, unknown> = {};
  const failed: string[] = [];
  for (const bench of selected) {
    process.stdout.write(`\n## ${bench.name}${mode === 'default' ? '' : ` (${mode} size)`}\n\n`);
    const t0 = performance.now();
    const { code, stdout } = await run(bench, mode);
    let json: unknown = null;
    try {
      json = jsonOf(stdout);
    } catch {
      // reported below as a failure
    }
    if (code !== 0 || json === null) failed.push(`${bench.name} (exit ${code}${json === null ? ', no JSON' : ''})`);
    results[bench.name] = { exitCode: code, seconds: Math.round((performance.now() - t0) / 100) / 10, result: json };
  }
  const out = values.out ?? join(here, '..', '..', 'bench', 'results', mode === 'smoke' ? 'smoke.json' : mode === 'full' ? 'full.json' : 'latest.json');
  await mkdir(dirname(out), { recursive: true });
  const machine = { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30) };
  await writeFile(out, `${JSON.stringify({ at: new Date().toISOString(), smoke: mode === 'smoke', mode, machine, results }, null, 2)}\n`);
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
