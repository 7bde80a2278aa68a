import { setMaxListeners } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSimulationConfig } from '../../agent/runtime/simulation/sim-config.js';
import { getSigningKeys, trustFileOf } from '../../cli/client/signing-client.js';
import { enrollSimDevices, simDeviceIds } from '../../cli/sim/enroll-devices.js';
import type { SimContainerCreate, SimDeviceAssignment } from '../../cli/sim/sim-messages.js';
import { SimWorkerPool } from '../../cli/sim/worker-pool.js';
import { errorMessage } from '../../shared/errors.js';
import { seededRandom } from '../../shared/seeded-random.js';
import { waitUntil } from '../lib/child-process.js';
import { ChaosCluster, pause, type ProcessExit } from './chaos-cluster.js';
import { ChangeDriver, type ChangeCounts } from './change-driver.js';
import { checkHistories, type CheckResult, type DeviceHistory } from './checker.js';
import { executeFault } from './fault-executor.js';
import { FaultLink } from './fault-link.js';
import { countByKind, FAULT_NUMBER, planFaults, type FaultKind, type PlannedFault } from './fault-plan.js';
import { HistoryRecorder } from './history-recorder.js';

export interface ChaosOptions {
  seed: number;
  durationMs: number;
  devices: number;
  /** Devices per group: a group shares its relays, so a link fault hits all of it. */
  groupSize: number;
  workers: number;
  brokers: number;
  keepaliveSeconds: number;
  maxQueuedMessages: number;
  /** Mean time between fault starts, and between changes of the fleet's release. */
  faultGapMs: number;
  changeGapMs: number;
  /** Share of devices whose clock is an hour off, either way (F9). */
  skewedShare: number;
  convergeTimeoutMs: number;
  /** One line per fault and phase (stderr). */
  log: (line: string) => void;
}

export interface ChaosResult {
  benchmark: 'chaos';
  seed: number;
  durationS: number;
  devices: number;
  groups: number;
  brokers: number;
  keepaliveSeconds: number;
  maxQueuedMessages: number;
  /** Devices whose clock ran an hour fast or slow for the whole run (F9). */
  skewedDevices: number;
  faults: Record<FaultKind, number>;
  /** Faults whose execution threw (a process that would not start again…), with why. */
  faultErrors: string[];
  changes: ChangeCounts;
  /** Distinct desired versions published, summed over devices. */
  versionsPublished: number;
  /** From the end of the faults until every device reported converged at its latest desired version; null: not within the time-out. */
  convergeAfterHealS: number | null;
  unexpectedProcessExits: string[];
  simulatorFailures: string[];
  unparsedMessages: number;
  checker: Omit<CheckResult, 'problems'> & { problems: string[] };
}

const APP = 'chaos';
const seconds = (ms: number): number => Math.round(ms / 100) / 10;

/**
 * The chaos run of issue 13: a control plane of separate processes
 * (ChaosCluster), simulated devices in groups behind fault links to every
 * broker node, a seeded plan of faults F1–F8 and F10 (F9: skewed clocks for
 * the whole run) carried out while the fleet's release keeps changing, then
 * heal, wait for convergence and check every device's history.
 */
export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const started = Date.now();
  const planRandom = seededRandom(o.seed);
  const groups = Math.ceil(o.devices / o.groupSize);
  const plan = planFaults({ durationMs: o.durationMs, groups, brokers: o.brokers, keepaliveSeconds: o.keepaliveSeconds, meanGapMs: o.faultGapMs, random: planRandom });
  const cluster = await ChaosCluster.start({ brokers: o.brokers, maxQueuedMessages: o.maxQueuedMessages, rolloutPollSeconds: 0.5 });
  const links: FaultLink[][] = [];
  const stateRoot = await mkdtemp(join(tmpdir(), 'outpost-chaos-sim-'));
  const simulatorFailures: string[] = [];
  const creates = new Map<string, readonly SimContainerCreate[]>();
  const pool = new SimWorkerPool({
    onFailure: (deviceId, message) => simulatorFailures.push(`${deviceId ?? 'worker'}: ${message}`),
    onWorkerExit: (index, code, signal) => simulatorFailures.push(`worker ${index} exited (code ${code}, signal ${signal})`),
    onCreates: (deviceId, c) => creates.set(deviceId, c),
  });
  let recorder: HistoryRecorder | null = null;
  try {
    const linkRandom = seededRandom(o.seed ^ 0x2545f491);
    const skewRandom = seededRandom(o.seed ^ 0x68e31da4);
    const ids = simDeviceIds(`chaos-${o.seed}`.toLowerCase().replace(/[^a-z0-9-]/g, ''), o.devices);
    recorder = HistoryRecorder.start(cluster.brokerPorts.map((_, i) => cluster.brokerUrl(i)), cluster.servicePassword, ids);
    const assignments: SimDeviceAssignment[] = [];
    for (let g = 0; g < groups; g++) {
      const group: FaultLink[] = [];
      for (let b = 0; b < o.brokers; b++) group.push(await FaultLink.start(cluster.brokerPorts[b] ?? 0, linkRandom));
      links.push(group);
      // Half the groups prefer the first node, half the second: both carry devices when nothing fails.
      const urls = group.map((l) => l.url);
      const brokerUrl = (g % 2 === 0 ? urls : [...urls].reverse()).join(',');
      const groupIds = ids.slice(g * o.groupSize, (g + 1) * o.groupSize);
      for (const d of await enrollSimDevices(cluster.client, groupIds, { chaos: APP, group: `g${g}` }, stateRoot)) {
        const skew = skewRandom() < o.skewedShare ? (skewRandom() < 0.5 ? -3_600_000 : 3_600_000) : 0;
        assignments.push({ ...d, brokerUrl, ...(skew ? { clockOffsetMs: skew } : {}) });
      }
    }
    const trust = trustFileOf(await getSigningKeys(cluster.client));
    await pool.start(Math.min(o.workers, o.devices), assignments, {
      stateRoot,
      agent: { brokerUrl: cluster.brokerUrl(0), insecurePlaintext: true, trust, telemetryIntervalSeconds: 0, logLevel: 'fatal', keepaliveSeconds: o.keepaliveSeconds },
      simulation: parseSimulationConfig({ seed: o.seed, pullLatencyMs: 200, startLatencyMs: 50 }),
    });
    const driver = new ChangeDriver(cluster.client, {
      app: APP,
      fleetSelector: `chaos=${APP}`,
      groupSelector: (g) => `chaos=${APP},group=g${g}`,
      groups,
      meanGapMs: o.changeGapMs,
      random: seededRandom(o.seed ^ 0x1b873593),
    });
    await driver.first();
    const rec = recorder;
    const convergedAll = async (): Promise<boolean> => {
      const listed = await cluster.client.listDevices(`chaos=${APP}`).catch(() => null);
      if (!listed || listed.devices.length !== ids.length) return false;
      return listed.devices.every((d) => d.desiredVersion !== null && rec.convergedAt(d.id, d.desiredVersion));
    };
    await waitUntil('the simulated fleet converged on release 1', convergedAll, 180_000, 500);
    o.log(`chaos: seed ${o.seed}, ${o.devices} simulated devices in ${groups} groups, ${plan.length} faults over ${seconds(o.durationMs)} s (set-up took ${seconds(Date.now() - started)} s)`);

    const faultErrors: string[] = [];
    const ended = new AbortController();
    // Every running fault and the change loop wait on it.
    setMaxListeners(0, ended.signal);
    const t0 = Date.now();
    driver.start(ended.signal);
    const running = plan.map(async (f: PlannedFault) => {
      await pause(f.atMs, ended.signal);
      if (ended.signal.aborted) return;
      o.log(`+${seconds(Date.now() - t0)} s ${FAULT_NUMBER[f.kind]} ${describe(f)}`);
      await executeFault(f, { cluster, links, driver, maxQueuedMessages: o.maxQueuedMessages, random: linkRandom, signal: ended.signal }).catch((err: unknown) => {
        faultErrors.push(`${f.kind} at +${seconds(f.atMs)} s: ${errorMessage(err)}`);
      });
    });
    await pause(o.durationMs);
    o.log(`+${seconds(Date.now() - t0)} s heal`);
    ended.abort();
    await Promise.all(running);
    for (const group of links) for (const l of group) l.heal();
    await cluster.ensureRunning();
    const healedAt = Date.now();
    await driver.finish();
    o.log(`chaos: changes in flight done ${seconds(Date.now() - healedAt)} s after heal`);
    let convergeAfterHealS: number | null = null;
    try {
      await waitUntil('every simulated device converged at its latest desired version', convergedAll, o.convergeTimeoutMs, 500);
      convergeAfterHealS = seconds(Date.now() - healedAt);
    } catch (err) {
      o.log(`chaos: ${errorMessage(err)}`);
    }
    o.log(`chaos: converged ${convergeAfterHealS ?? 'never'} s after heal; stopping`);

    const finalDesired = new Map((await cluster.client.listDevices(`chaos=${APP}`)).devices.map((d) => [d.id, d.desiredVersion]));
    await pool.stop();
    const histories: Record<string, DeviceHistory> = {};
    for (const id of ids) histories[id] = { ...rec.history(id, finalDesired.get(id) ?? null), creates: creates.get(id) ?? [] };
    const checker = checkHistories(histories);
    return {
      benchmark: 'chaos',
      seed: o.seed,
      durationS: seconds(o.durationMs),
      devices: o.devices,
      groups,
      brokers: o.brokers,
      keepaliveSeconds: o.keepaliveSeconds,
      maxQueuedMessages: o.maxQueuedMessages,
      skewedDevices: assignments.filter((a) => a.clockOffsetMs).length,
      faults: countByKind(plan.filter((f) => f.atMs < o.durationMs)),
      faultErrors,
      changes: driver.counts,
      versionsPublished: rec.publishedCount(),
      convergeAfterHealS,
      unexpectedProcessExits: cluster.unexpectedExits.map((e: ProcessExit) => `${e.name}: ${e.output.split('\n').filter(Boolean).slice(-3).join(' | ')}`),
      simulatorFailures,
      unparsedMessages: rec.unparsed.count,
      checker: { ...checker, problems: checker.problems.slice(0, 50) },
    };
  } catch (err) {
    for (const [name, output] of Object.entries(cluster.outputs())) o.log(`--- ${name} (last lines)\n${output.slice(-3000)}`);
    throw err;
  } finally {
    await pool.stop();
    await recorder?.close();
    for (const group of links) for (const l of group) await l.close();
    await cluster.close();
    await rm(stateRoot, { recursive: true, force: true });
  }
}

function describe(f: PlannedFault): string {
  const d = `${seconds(f.durationMs)} s`;
  switch (f.kind) {
    case 'broker-kill':
      return `kill -9 broker ${String.fromCharCode(65 + f.broker)}, down ${d}`;
    case 'redis-restart':
      return `Redis restart, down ${d}`;
    case 'controller-kill':
      return `kill -9 controller, down ${d}`;
    case 'flapping':
      return `flapping groups ${f.groups.join(',')} for ${d}`;
    default:
      return `${f.kind} group ${f.group} for ${d}`;
  }
}
