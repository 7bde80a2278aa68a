import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSimulationConfig } from '../../agent/runtime/simulation/sim-config.js';
import type { ApiClient } from '../../cli/client/api-client.js';
import { getSigningKeys, trustFileOf } from '../../cli/client/signing-client.js';
import { enrollSimDevices, simDeviceIds } from '../../cli/sim/enroll-devices.js';
import { SimWorkerPool } from '../../cli/sim/worker-pool.js';
import { waitUntil } from './child-process.js';
import type { FleetObserver } from './fleet-observer.js';

export interface SimFleetOptions {
  devices: number;
  workers: number;
  prefix: string;
  /** Mean simulated pull and start times (0: the control path alone is measured). */
  pullLatencyMs: number;
  startLatencyMs: number;
  /** Longest time enrolment, start and the first convergence may take together. */
  setupTimeoutMs: number;
  /** The agents' event detail; absent: their default (summary). */
  eventDetail?: 'summary' | 'steps';
}

export interface SimFleet {
  readonly ids: readonly string[];
  /** Label selector of exactly this fleet. */
  readonly selector: string;
  /** Seconds enrolment, start and the initial convergence took (not part of any measurement). */
  readonly setup: { enrollS: number; startS: number; convergeS: number };
  /** Simulated devices or workers that failed since the start (each a message). */
  readonly failures: string[];
  stop(): Promise<void>;
}

const seconds = (t0: number): number => Math.round((performance.now() - t0) / 100) / 10;

/**
 * N simulated devices (DD-029: worker processes, each running real agent
 * cores over the simulated runtime), enrolled through the API like
 * `outpost sim`, online, and converged on release 1 of `app` (a deployment
 * to the fleet's selector), as the observer sees their reports. Trusting the
 * controller's signing keys, as a production fleet does.
 */
export async function startSimFleet(client: ApiClient, brokerUrl: string, observer: FleetObserver, app: string, o: SimFleetOptions): Promise<SimFleet> {
  const stateRoot = await mkdtemp(join(tmpdir(), 'outpost-bench-sim-'));
  const failures: string[] = [];
  const pool = new SimWorkerPool({
    onFailure: (deviceId, message) => failures.push(`${deviceId ?? 'worker'}: ${message}`),
    onWorkerExit: (index, code, signal) => failures.push(`worker ${index} exited (code ${code}, signal ${signal})`),
  });
  const stop = async (): Promise<void> => {
    await pool.stop();
    await rm(stateRoot, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + o.setupTimeoutMs;
    const left = (): number => Math.max(1000, deadline - Date.now());
    const ids = simDeviceIds(o.prefix, o.devices);
    const selector = `bench=${o.prefix}`;
    let t0 = performance.now();
    const devices = await enrollSimDevices(client, ids, { bench: o.prefix }, stateRoot);
    const enrollS = seconds(t0);

    t0 = performance.now();
    const simulation = parseSimulationConfig({ pullLatencyMs: o.pullLatencyMs, startLatencyMs: o.startLatencyMs });
    const trust = trustFileOf(await getSigningKeys(client));
    await pool.start(Math.min(o.workers, o.devices), devices, {
      stateRoot,
      agent: { brokerUrl, insecurePlaintext: true, trust, telemetryIntervalSeconds: 0, logLevel: 'warn', ...(o.eventDetail ? { eventDetail: o.eventDetail } : {}) },
      simulation,
    });
    // Listing the fleet costs the controller O(fleet): poll large fleets less often.
    const pollMs = Math.min(2000, Math.max(250, o.devices / 5));
    await waitUntil(`${o.devices} simulated devices online`, async () => (await client.listDevices(selector)).devices.filter((d) => d.online).length === o.devices, left(), pollMs);
    const startS = seconds(t0);

    t0 = performance.now();
    await client.createRelease({ app, version: '1', workloads: { web: { image: `sim/${app}:1`, stopTimeoutSeconds: 1 } } });
    await client.createDeployment({ app, version: '1', target: { kind: 'selector', selector } });
    await Promise.race([
      Promise.all(ids.map((id) => observer.reported.next(id, (r) => r.body.phase === 'converged' && r.body.workloads[`${app}-web`]?.image === `sim/${app}:1`, true))),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`the ${o.devices} simulated devices did not converge on ${app}@1 in time`)), left()).unref()),
    ]);
    const convergeS = seconds(t0);
    return { ids, selector, setup: { enrollS, startS, convergeS }, failures, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
