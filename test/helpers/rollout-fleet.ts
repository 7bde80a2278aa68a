import { ApiClient } from '../../cli/client/api-client.js';
import { getRollout, type RolloutDetailBody } from '../../cli/client/rollout-client.js';
import type { DeviceHistory } from '../../bench/chaos/checker.js';
import { startAgent, type AgentProcessOptions } from './agent-process.js';
import { containerCreates } from './device-containers.js';
import { removeDeviceContainers } from './docker.js';
import type { ManagedProcess } from './process.js';
import { makeTempDir, type TempDir } from './temp-dir.js';
import { connectTestController, type DeviceWatch, type TestController } from './test-controller.js';
import { waitFor } from './wait-for.js';

export interface FleetOptions {
  api: { url: string; token: string };
  /** Where the observer (and, unless agentBrokerUrl says otherwise, the agents) connect. */
  brokerUrl: string;
  /** The agents' `--broker`, e.g. a failover list `mqtt://a,mqtt://b`; brokerUrl by default. */
  agentBrokerUrl?: string;
  serviceAuth: { username: string; password: string };
  /** Device ids are `<prefix>-<i>-<random>`. */
  prefix: string;
  count: number;
  labels?: (i: number) => Record<string, string>;
  /** Extra `outpost agent` options for the i-th device (e.g. a report format or a profile). */
  agentArgs?: (i: number) => string[];
  /** Starts one agent; a host process (startAgent) by default, e.g. a container (tc-agents.ts). */
  launchAgent?: (opts: AgentProcessOptions) => Promise<ManagedProcess>;
  /** Extra environment for the i-th device's agent (e.g. a fake clock, helpers/faketime.ts). */
  agentEnv?: (i: number) => Record<string, string>;
}

/**
 * A handful of enrolled devices with real agents (real Docker), driven
 * through the HTTP API like an operator would, and an observer recording
 * what each device says (desired.received events give its version history).
 */
export class RolloutFleet {
  readonly client: ApiClient;
  readonly ids: string[] = [];
  readonly watches: Record<string, DeviceWatch> = {};
  private readonly agents = new Map<string, ManagedProcess>();
  private readonly secrets = new Map<string, string>();
  private readonly dirs = new Map<string, TempDir>();
  private observer!: TestController;

  private constructor(private readonly opts: FleetOptions) {
    this.client = new ApiClient({ baseUrl: opts.api.url, token: opts.api.token });
  }

  static async start(opts: FleetOptions): Promise<RolloutFleet> {
    const fleet = new RolloutFleet(opts);
    fleet.observer = await connectTestController(opts.brokerUrl, opts.serviceAuth);
    const suffix = Math.random().toString(36).slice(2, 7);
    for (let i = 0; i < opts.count; i++) {
      const id = `${opts.prefix}-${i}-${suffix}`;
      const { secret } = await fleet.client.addDevice({ id, labels: opts.labels?.(i) ?? {} });
      fleet.ids.push(id);
      fleet.secrets.set(id, secret);
      fleet.dirs.set(id, await makeTempDir('rollout'));
      fleet.watches[id] = await fleet.observer.watch(id);
    }
    await Promise.all(fleet.ids.map((id) => fleet.startAgent(id)));
    return fleet;
  }

  async startAgent(id: string): Promise<void> {
    const dir = this.dirs.get(id);
    const secret = this.secrets.get(id);
    if (!dir || !secret) throw new Error(`unknown device ${id}`);
    const extraArgs = this.opts.agentArgs?.(this.ids.indexOf(id)) ?? [];
    const brokerUrl = this.opts.agentBrokerUrl ?? this.opts.brokerUrl;
    const launch = this.opts.launchAgent ?? startAgent;
    const env = this.opts.agentEnv?.(this.ids.indexOf(id));
    this.agents.set(id, await launch({ deviceId: id, brokerUrl, secret, stateDir: dir.path, extraArgs, ...(env ? { env } : {}) }));
  }

  async stopAgent(id: string): Promise<void> {
    await this.agents.get(id)?.stop();
    this.agents.delete(id);
  }

  /** The running agent of a device. */
  agent(id: string): ManagedProcess {
    const agent = this.agents.get(id);
    if (!agent) throw new Error(`no agent running for ${id}`);
    return agent;
  }

  outputs(): Record<string, string> {
    return Object.fromEntries([...this.agents].map(([id, a]) => [`agent ${id}`, a.output()]));
  }

  /** Every desired version the device received, in arrival order (duplicates of one version once). */
  received(id: string): number[] {
    const out: number[] = [];
    for (const e of this.watches[id]?.events ?? []) {
      if (e.type === 'desired.received' && e.version !== undefined && e.version !== null && !out.includes(e.version)) out.push(e.version);
    }
    return out;
  }

  /**
   * The versions the device's running agent logged as received ("desired state received"), in order:
   * what it got, from its own output. Unlike received(), it does not depend on the device's events
   * reaching the observer: an event published in the instant Redis dies is lost to online
   * subscribers when the broker passes messages through the Redis emitter (pub/sub is at most once).
   */
  agentReceived(id: string): number[] {
    const out: number[] = [];
    for (const m of this.agent(id).output().matchAll(/"version":(\d+),"msg":"desired state received"/g)) {
      const v = Number(m[1]);
      if (!out.includes(v)) out.push(v);
    }
    return out;
  }

  /**
   * One device's history for the checker (bench/chaos/checker.ts): the versions it was sent (what it
   * said it received, then `latest`), the versions its reports said applied, and its containers
   * created since `since` (Unix seconds).
   */
  async history(id: string, latest: number, since: number, received: number[] = this.received(id)): Promise<DeviceHistory> {
    return {
      published: [...received, latest],
      applied: this.watches[id]?.reports.map((r) => r.desired.appliedVersion) ?? [],
      creates: await containerCreates(id, since),
    };
  }

  converged(id: string, version: number, timeoutMs = 60_000): Promise<unknown> {
    const watch = this.watches[id];
    if (!watch) throw new Error(`unknown device ${id}`);
    return watch.waitForReport((r) => r.phase === 'converged' && r.desired.appliedVersion === version, timeoutMs, `${id} converged at v${version}`);
  }

  /** The device's current desired version, per the controller. */
  async desiredVersion(id: string): Promise<number | null> {
    return (await this.client.desiredOf(id)).desired?.version ?? null;
  }

  async rollout(id: string): Promise<RolloutDetailBody> {
    return getRollout(this.client, id);
  }

  async waitForPhase(id: string, phases: readonly string[], timeoutMs = 90_000): Promise<RolloutDetailBody> {
    return waitFor(
      async () => {
        const r = await this.rollout(id);
        return phases.includes(r.phase) ? r : undefined;
      },
      { timeoutMs, intervalMs: 250, description: `rollout ${id} reaches ${phases.join(' or ')}` },
    );
  }

  async close(): Promise<void> {
    for (const a of this.agents.values()) await a.stop();
    this.agents.clear();
    await this.observer?.close();
    for (const id of this.ids) await removeDeviceContainers(id);
    for (const d of this.dirs.values()) await d.remove();
  }
}

/** Waves were started in order, each after the previous one's verdict, and each evaluated exactly once. */
export function assertWavesInOrder(r: RolloutDetailBody): string[] {
  const problems: string[] = [];
  r.waves.forEach((w, i) => {
    if (!w.startedAt) problems.push(`wave ${i} never started`);
    if (!w.evaluatedAt || !w.outcome) problems.push(`wave ${i} has no verdict`);
    const prev = r.waves[i - 1];
    if (prev && w.startedAt && prev.evaluatedAt && Date.parse(w.startedAt) < Date.parse(prev.evaluatedAt)) {
      problems.push(`wave ${i} started before wave ${i - 1} was evaluated`);
    }
  });
  for (const d of r.devices) {
    const prev = r.waves[d.wave - 1];
    if (prev?.evaluatedAt && d.notifiedAt && Date.parse(d.notifiedAt) < Date.parse(prev.evaluatedAt)) {
      problems.push(`${d.deviceId} (wave ${d.wave}) was notified before wave ${d.wave - 1} was evaluated`);
    }
  }
  return problems;
}

/** Counts a log message over the output of several processes (killed ones included). */
export function logCount(outputs: readonly string[], msg: string): number {
  return outputs.reduce((n, out) => n + out.split('\n').filter((l) => l.includes(`"msg":"${msg}"`)).length, 0);
}
