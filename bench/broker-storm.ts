/**
 * Benchmark: a reconnect storm (issue 10, benchmarks 1 and 3). N devices
 * with persistent sessions (clean=false, QoS 1 subscription to their own
 * exact desired topic) go away; a retained QoS 1 desired document is
 * published to each as the controller's service identity while they are
 * away; then all come back at once. Every combination of target (the Outpost
 * broker, Outpost-on-Mosquitto with dynamic security, plain Mosquitto) and
 * client kind (raw MQTT.js clients, simulated agents) runs on a fresh broker
 * (and Redis) in this one invocation: time until every device converged,
 * p50/p99/max, lost, duplicated, CONNACK time-outs, broker CPU, Redis
 * traffic, broker memory per stored session and per idle connected device
 * (heap after GC via the inspector for the Outpost broker, RSS for all).
 * Prints JSON, then a markdown table per client kind with each target's
 * ratio to plain Mosquitto. Modules: bench/storm/.
 *
 * Usage: see USAGE in bench/storm/options.ts.
 */
import type { PersistenceKind } from '../broker/persistence/kinds.js';
import type { StormResult } from './storm/measure.js';
import { startMosquittoTarget } from './storm/mosquitto-target.js';
import { parseStormOptions, type StormOptions } from './storm/options.js';
import { startOutpostTarget } from './storm/outpost-target.js';
import { ratios, tables } from './storm/report.js';
import { runCombination } from './storm/run-combination.js';
import type { Target, TargetKind } from './storm/target.js';

/** Target starters for one target kind: one per persistence for the Outpost broker. */
function startersFor(kind: TargetKind, o: StormOptions): Array<() => Promise<Target>> {
  switch (kind) {
    case 'outpost':
      return o.persistence.map((persistence: PersistenceKind) => () => startOutpostTarget({ persistence, emitter: o.emitter, brokerWorkers: o.brokerWorkers, listenBacklog: o.listenBacklog, profileDir: o.profileDir, storeKeyFile: o.storeKeyFile }));
    case 'outpost-mosquitto':
      return [() => startMosquittoTarget({ dynsec: true, autosave: o.mosquittoAutosave, dynsecSetup: o.dynsecSetup })];
    case 'mosquitto':
      return [() => startMosquittoTarget({ dynsec: false, autosave: o.mosquittoAutosave, dynsecSetup: o.dynsecSetup })];
  }
}

async function main(): Promise<void> {
  const options = parseStormOptions();
  const results: StormResult[] = [];
  for (const clients of options.clients) {
    for (const kind of options.targets) {
      for (const start of startersFor(kind, options)) {
        const r = await runCombination(start, clients, options);
        process.stderr.write(`broker-storm: ${r.label} × ${r.clients}: ${r.allMs === null ? `${r.converged}/${r.devices} converged` : `all converged in ${(r.allMs / 1000).toFixed(2)} s`}\n`);
        results.push(r);
      }
    }
  }
  process.stdout.write(`${JSON.stringify({ bench: 'broker-storm', options, results, ratios: ratios(results) }, null, 2)}\n\n${tables(results)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
