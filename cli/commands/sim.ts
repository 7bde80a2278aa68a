import type { Command } from 'commander';
import { runSim } from '../sim/run-sim.js';
import { simOptionsFromFlags, type SimFlags } from '../sim/sim-options.js';
import { collect, parsePairs } from './args.js';
import { oneLineErrors, run, withApiOptions, type ApiFlags } from './command-context.js';

/** `outpost sim`: a simulated fleet against a running control plane (DD-029). */
export function registerSimCommand(program: Command): void {
  withApiOptions(
    oneLineErrors(program.command('sim')).description(
      'enrol and run N SIMULATED devices: real MQTT sessions and the real agent core over a simulated container runtime, to rehearse deployments and rollouts',
    ),
  )
    .requiredOption('--devices <n>', 'how many simulated devices')
    .option('--workers <n>', 'worker processes the devices are spread over (default: the CPU count)')
    .option('--prefix <prefix>', 'device ids are <prefix>-000, <prefix>-001, … (default sim)')
    .option('--label <key=value>', 'a label on every simulated device, besides sim=true (repeatable)', collect, [])
    .option('--broker <url>', 'broker URL the simulated devices connect to (default mqtt://127.0.0.1:1883)')
    .option('--broker-ca <file>', "PEM CA of the broker's certificate, for mqtts:// (outpost up: .outpost/ca.pem)")
    .option('--state-dir <dir>', 'root of the per-device state directories (default: a temporary directory, removed at exit)')
    .option('--pull-latency-ms <ms>', 'mean simulated image pull time (default 200)')
    .option('--start-latency-ms <ms>', 'mean simulated container start time (default 50)')
    .option('--failure-rate <0..1>', 'share of images a simulated device cannot pull: IMAGE_PULL_FAILED (default 0)')
    .option('--start-failure-rate <0..1>', 'share of images whose containers a simulated device cannot start: CONTAINER_START_FAILED (default 0)')
    .option('--flaky-health-rate <0..1>', 'share of container starts with flaky health (needs a health check; default 0)')
    .option('--flaky-health <statuses>', 'health statuses a flaky container goes through, one per check interval (default starting,unhealthy)')
    .option('--seed <n>', 'seed of the simulated faults: the same seed fails the same devices (default 1)')
    .option('--cleanup', 'on Ctrl-C, also decommission the simulated devices')
    .option('--accept-unsigned', "run the simulated agents as an unsigned fleet (default: trust the controller's signing keys, read from the API)")
    .option('--telemetry-interval <seconds>', 'telemetry period of each simulated agent, 0 = off (default 0)')
    .option('--progress-interval <seconds>', 'how often the fleet is read from the API (default 2)')
    .option('--log-level <level>', 'log level of the simulated agents (one logger per worker; default warn)')
    .action((flags: SimFlags & ApiFlags) =>
      run(flags, async (ctx) => {
        const options = simOptionsFromFlags(flags, parsePairs(flags.label, 'label'));
        await runSim(ctx, options);
      }),
    );
}
