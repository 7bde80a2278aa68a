import { readFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseSimulationConfig, type SimulationConfig } from '../../agent/runtime/simulation/sim-config.js';
import { getSigningKeys, trustFileOf } from '../client/signing-client.js';
import { CliError, EXIT_BAD_INPUT, type CommandContext } from '../commands/command-context.js';
import { enrollSimDevices, eachLimited, simDeviceIds } from './enroll-devices.js';
import type { SimAgentSettings } from './sim-messages.js';
import type { SimOptions } from './sim-options.js';
import { fleetProgress, formatBytes, progressLine } from './sim-progress.js';
import { SimWorkerPool } from './worker-pool.js';

/** Worker RSS moves by the megabyte with every GC: a line every half minute is enough. */
const MEMORY_EVERY_MS = 30_000;

/** Resolves on the first SIGINT or SIGTERM; a second one exits at once. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((done) => {
    const first = (signal: NodeJS.Signals): void => {
      process.once('SIGINT', () => process.exit(130));
      done(signal);
    };
    process.once('SIGINT', first);
    process.once('SIGTERM', first);
  });
}

async function brokerCa(file: string | undefined): Promise<string | undefined> {
  if (!file) return undefined;
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError('CA_FILE_UNREADABLE', `cannot read the broker CA file ${file}: ${err instanceof Error ? err.message : String(err)}`, EXIT_BAD_INPUT, { cause: err });
  }
}

/**
 * `outpost sim`: enrol N simulated devices through the API, run them in
 * worker processes (real agent core, simulated container runtime), print
 * what the control plane sees until Ctrl-C, then stop them in order and,
 * with --cleanup, decommission them (DD-029).
 */
export async function runSim(ctx: CommandContext, o: Readonly<SimOptions>): Promise<void> {
  const simulation = parseSimulationConfig({
    seed: o.seed,
    pullLatencyMs: o.pullLatencyMs,
    startLatencyMs: o.startLatencyMs,
    pullFailureRate: o.pullFailureRate,
    startFailureRate: o.startFailureRate,
    flakyHealthRate: o.flakyHealthRate,
    flakyHealthSequence: o.flakyHealthSequence,
  });
  const ownRoot = o.stateDir === undefined;
  const stateRoot = o.stateDir ? resolve(o.stateDir) : await mkdtemp(join(tmpdir(), 'outpost-sim-'));
  try {
    await mkdir(stateRoot, { recursive: true });
    await runFleet(ctx, o, simulation, stateRoot);
  } finally {
    // A temporary root holds nothing worth keeping once the devices stopped (their secrets were for this run).
    if (ownRoot) await rm(stateRoot, { recursive: true, force: true });
  }
}

async function runFleet(ctx: CommandContext, o: Readonly<SimOptions>, simulation: SimulationConfig, stateRoot: string): Promise<void> {
  const signal = untilSignal();
  const agent: SimAgentSettings = {
    brokerUrl: o.brokerUrl,
    insecurePlaintext: o.insecurePlaintext,
    telemetryIntervalSeconds: o.telemetryIntervalSeconds,
    logLevel: o.logLevel,
    ...(o.acceptUnsigned ? {} : { trust: trustFileOf(await getSigningKeys(ctx.client)) }),
  };
  const ca = await brokerCa(o.brokerCaFile);
  if (ca) agent.brokerCaPem = ca;

  const ids = simDeviceIds(o.prefix, o.devices);
  const idSet = new Set(ids);
  const labels = Object.entries(o.labels).map(([k, v]) => `${k}=${v}`).join(',');
  const devices = await enrollSimDevices(ctx.client, ids, o.labels, stateRoot);
  ctx.print(`Enrolled ${ids.length} simulated devices (${ids[0]} … ${ids.at(-1)}), labels ${labels}; state in ${stateRoot}`);

  const pool = new SimWorkerPool({
    onFailure: (deviceId, message) => process.stderr.write(`outpost sim: ${deviceId ? `simulated device ${deviceId}: ` : ''}${message}\n`),
    onWorkerExit: (index, code, sig) => process.stderr.write(`outpost sim: worker ${index} exited (code ${code}, signal ${sig}); its simulated devices are gone\n`),
  });
  try {
    await pool.start(o.workers, devices, { stateRoot, agent, simulation });
    ctx.print(
      `Started ${pool.stats().startedDevices} simulated devices in ${o.workers} worker process${o.workers === 1 ? '' : 'es'} (simulated runtime: pull ${o.pullLatencyMs} ms, start ${o.startLatencyMs} ms, ` +
        `pull failure rate ${o.pullFailureRate}, start failure rate ${o.startFailureRate}, flaky health ${o.flakyHealthRate}, seed ${o.seed}); Ctrl-C stops them`,
    );
    let last = '';
    let memoryPrintedAt = 0;
    const tick = async (): Promise<void> => {
      try {
        const line = progressLine(fleetProgress((await ctx.client.listDevices('sim=true')).devices, idSet));
        if (line !== last) ctx.print((last = line));
      } catch (err) {
        process.stderr.write(`outpost sim: cannot read the fleet: ${err instanceof Error ? err.message : String(err)}\n`);
      }
      const s = pool.stats();
      if (s.rssPerDeviceBytes !== null && Date.now() - memoryPrintedAt >= MEMORY_EVERY_MS) {
        memoryPrintedAt = Date.now();
        ctx.print(
          `simulator memory: ${formatBytes(s.rssBytes)} RSS in ${s.workers} worker${s.workers === 1 ? '' : 's'} (${formatBytes(s.baselineRssBytes)} before any device), ` +
            `${formatBytes(s.rssPerDeviceBytes)} per simulated device (JS heap ${formatBytes(s.heapPerDeviceBytes ?? 0)})`,
        );
      }
    };
    let timer: NodeJS.Timeout | undefined;
    const loop = (): void => {
      timer = setTimeout(() => void tick().finally(loop), o.progressIntervalMs);
    };
    await tick();
    loop();
    const got = await signal;
    clearTimeout(timer);
    ctx.print(`${got}: stopping ${ids.length} simulated devices`);
  } finally {
    await pool.stop();
  }
  if (o.cleanup) {
    await eachLimited(ids, 8, async (id) => {
      await ctx.client.removeDevice(id);
    });
    ctx.print(`Decommissioned ${ids.length} simulated devices`);
  }
  ctx.print(`Stopped ${ids.length} simulated devices${o.cleanup ? '' : ' (still enrolled: --cleanup decommissions them)'}`);
}
