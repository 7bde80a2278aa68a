import { ApiClientError, type ApiClient } from '../../cli/client/api-client.js';
import { createRollout, getRollout } from '../../cli/client/rollout-client.js';
import { pause } from './chaos-cluster.js';

export interface ChangeDriverOptions {
  app: string;
  /** Label selector of the whole simulated fleet, and of group g (`groupSelector(g)`). */
  fleetSelector: string;
  groupSelector: (g: number) => string;
  groups: number;
  /** Mean time between two changes made by the loop. */
  meanGapMs: number;
  random: () => number;
}

export interface ChangeCounts {
  releases: number;
  deployments: number;
  rollouts: number;
  /** Rollouts by the phase they ended in (or `unfinished` when the wait gave up). */
  rolloutOutcomes: Record<string, number>;
  /** API calls that failed for a moment (controller or Redis down) and were made again. */
  apiRetries: number;
}

const ROLLOUT_DONE = new Set(['succeeded', 'paused', 'aborted', 'rolled-back']);
const ROLLOUT_WAIT_MS = 180_000;
const CALL_GIVE_UP_MS = 180_000;

/** A failure worth trying again: the controller or its Redis is away (network error, 5xx, time-out). */
function transient(err: unknown): boolean {
  return !(err instanceof ApiClientError) || err.status >= 500 || err.status === 0;
}

/**
 * Keeps changing what the simulated fleet should run while the faults go
 * on, as operators do: every change is a new release (its own image per
 * workload, so each version has a spec of its own and a repeated apply shows
 * as a second container create, checker.ts), then a deployment to the
 * fleet, a deployment to one group, or a rollout in waves. Every request has
 * a fixed id, so one repeated after a time-out is the same request.
 * Rollouts run at the deployments' priority (newest wins) and pass their
 * waves whatever the devices do: the run checks the devices, not the gates.
 */
export class ChangeDriver {
  readonly counts: ChangeCounts = { releases: 0, deployments: 0, rollouts: 0, rolloutOutcomes: {}, apiRetries: 0 };
  private release = 1;
  private loop: Promise<void> | null = null;
  private readonly rollouts: Promise<void>[] = [];

  constructor(
    private readonly client: ApiClient,
    private readonly o: ChangeDriverOptions,
  ) {}

  /** Release 1 to the whole fleet (the starting point, before any fault). */
  async first(): Promise<void> {
    await this.newRelease(1);
    await this.call(() => this.client.createDeployment({ id: `${this.o.app}-d1`, app: this.o.app, version: '1', target: { kind: 'selector', selector: this.o.fleetSelector } }));
    this.counts.deployments += 1;
  }

  /** Changes until `signal` aborts. */
  start(signal: AbortSignal): void {
    this.loop = (async () => {
      for (;;) {
        await pause(-Math.log(1 - this.o.random()) * this.o.meanGapMs, signal);
        if (signal.aborted) return;
        const draw = this.o.random();
        if (draw < 0.55) await this.deploy(this.o.fleetSelector);
        else if (draw < 0.75) await this.deploy(this.o.groupSelector(Math.floor(this.o.random() * this.o.groups)));
        else await this.rollout();
      }
    })();
  }

  /** `n` deployments in a row to group `g` (F8: more versions than its queue holds while it is away). */
  async burst(g: number, n: number, signal: AbortSignal): Promise<void> {
    for (let i = 0; i < n && !signal.aborted; i++) await this.deploy(this.o.groupSelector(g));
  }

  /** Waits for the loop to stop and every rollout it started to end. */
  async finish(): Promise<void> {
    await this.loop;
    await Promise.all(this.rollouts);
  }

  private async deploy(selector: string): Promise<void> {
    const version = ++this.release;
    await this.newRelease(version);
    await this.call(() => this.client.createDeployment({ id: `${this.o.app}-d${version}`, app: this.o.app, version: String(version), target: { kind: 'selector', selector } }));
    this.counts.deployments += 1;
  }

  private async rollout(): Promise<void> {
    const version = ++this.release;
    await this.newRelease(version);
    const id = `${this.o.app}-r${version}`;
    await this.call(
      () =>
        createRollout(this.client, {
          id,
          app: this.o.app,
          toVersion: String(version),
          target: { kind: 'selector', selector: this.o.fleetSelector },
          waves: { kind: 'sizes', sizes: ['10%', '40%', '100%'] },
          successThresholdPct: 0,
          maxFailurePct: 100,
          deviceTimeoutSeconds: 20,
          priority: 0,
        }),
    );
    this.counts.rollouts += 1;
    // The next change waits for this rollout: two at once on one app would shadow each other's later waves.
    const done = this.awaitRollout(id);
    this.rollouts.push(done);
    await done;
  }

  private async awaitRollout(id: string): Promise<void> {
    const deadline = Date.now() + ROLLOUT_WAIT_MS;
    let phase = 'unfinished';
    while (Date.now() < deadline) {
      const r = await getRollout(this.client, id).catch(() => null);
      if (r && ROLLOUT_DONE.has(r.phase)) {
        phase = r.phase;
        break;
      }
      await pause(1000);
    }
    this.counts.rolloutOutcomes[phase] = (this.counts.rolloutOutcomes[phase] ?? 0) + 1;
  }

  private async newRelease(version: number): Promise<void> {
    const image = (w: string): string => `sim/${this.o.app}-${w}:${version}`;
    await this.call(
      () =>
        this.client.createRelease({
          app: this.o.app,
          version: String(version),
          workloads: { web: { image: image('web'), stopTimeoutSeconds: 1 }, worker: { image: image('worker'), stopTimeoutSeconds: 1 } },
        }),
    );
    this.counts.releases += 1;
  }

  /**
   * One API request, made again while the control plane is away (a change
   * once begun is carried through, even past the end of the faults); a 409
   * on a repeat means the first attempt went through. Never repeated on
   * another 4xx: that is a mistake of this driver, to surface.
   */
  private async call(request: () => Promise<unknown>): Promise<void> {
    const deadline = Date.now() + CALL_GIVE_UP_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        await request();
        return;
      } catch (err) {
        if (attempt > 0 && err instanceof ApiClientError && err.status === 409) return;
        if (!transient(err) || Date.now() > deadline) throw err;
        this.counts.apiRetries += 1;
        await pause(Math.min(5000, 250 * 2 ** attempt));
      }
    }
  }
}
