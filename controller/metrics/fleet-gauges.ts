import { Gauge, Histogram, Registry } from 'prom-client';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { DEVICE_PHASES } from '../../shared/schemas/reported-state.js';
import type { RolloutSummary } from '../http/rollout-schemas.js';
import { versionsBehind, type FleetSnapshot } from '../read-models/fleet-summary.js';
import { ROLLOUT_PHASES, type RolloutPhase } from '../rollout/model.js';

export interface FleetGaugeSources {
  /** The read model of GET /v1/fleet (read-models/fleet-summary.ts), so both always agree. */
  snapshot: () => Promise<FleetSnapshot>;
  rollouts: () => Promise<RolloutSummary[]>;
  /** One Redis round trip (PING). */
  ping: () => Promise<unknown>;
  logger: Logger;
  /** Monotonic nanoseconds; process.hrtime.bigint by default. */
  hrtime?: () => bigint;
}

/** Rollouts whose devices may still move: the ones with per-rollout series. */
const ACTIVE: readonly RolloutPhase[] = ['scheduled', 'running', 'paused', 'rolling-back'];

/** Buckets of outpost_devices_versions_behind; each lagging device is in exactly one. */
export const BEHIND_BUCKETS = [
  { label: '1', max: 1 },
  { label: '2', max: 2 },
  { label: '3-5', max: 5 },
  { label: '6-10', max: 10 },
  { label: '11+', max: Infinity },
] as const;

/**
 * Gauges of fleet state, computed at scrape time (DD-039): collect() reads
 * the same snapshot GET /v1/fleet answers from, the rollouts, and times one
 * Redis PING, then sets every gauge in one synchronous step. The fleet and
 * rollout gauges live in registries of their own that collect() returns
 * only when their part could be read: a part that fails is left out of the
 * scrape (prom-client would render an unlabelled gauge as 0 even after a
 * reset, and "0 devices online" is a lie, not a gap), and
 * outpost_metrics_collect_success{part} says 0; the scrape still answers.
 */
export class FleetGauges {
  private readonly g: ReturnType<typeof createGauges>;
  private readonly hrtime: () => bigint;
  private readonly fleetRegistry = new Registry();
  private readonly rolloutRegistry = new Registry();

  constructor(
    registry: Registry,
    private readonly sources: FleetGaugeSources,
  ) {
    this.g = createGauges({ main: registry, fleet: this.fleetRegistry, rollouts: this.rolloutRegistry });
    this.hrtime = sources.hrtime ?? process.hrtime.bigint;
  }

  /** The part registries, whatever the last collect found (to list every name this class can export). */
  partRegistries(): Registry[] {
    return [this.fleetRegistry, this.rolloutRegistry];
  }

  /** Reads and sets everything; resolves with the part registries to render with the main one. */
  async collect(): Promise<Registry[]> {
    const [fleet, rollouts, ping] = await Promise.allSettled([this.sources.snapshot(), this.sources.rollouts(), this.timePing()]);
    const g = this.g;
    for (const [part, result] of [['fleet', fleet], ['rollouts', rollouts], ['redis', ping]] as const) {
      g.collectSuccess.set({ part }, result.status === 'fulfilled' ? 1 : 0);
      if (result.status === 'rejected') this.sources.logger.warn({ part, err: errorMessage(result.reason) }, 'metrics collection failed');
    }
    const parts: Registry[] = [];
    if (fleet.status === 'fulfilled') {
      this.setFleet(fleet.value);
      parts.push(this.fleetRegistry);
    }
    if (rollouts.status === 'fulfilled') {
      this.setRollouts(rollouts.value);
      parts.push(this.rolloutRegistry);
    }
    if (ping.status === 'fulfilled') g.redisPing.observe(ping.value);
    return parts;
  }

  private async timePing(): Promise<number> {
    const started = this.hrtime();
    await this.sources.ping();
    return Number(this.hrtime() - started) / 1e9;
  }

  private setFleet(snapshot: FleetSnapshot): void {
    const g = this.g;
    // Labelled series of the last scrape (a release no longer deployed) must not linger.
    for (const gauge of [g.byPhase, g.behind, g.releaseDesired, g.releaseRunning]) gauge.reset();
    const s = snapshot.summary;
    g.devices.set(s.devices);
    g.online.set(s.online);
    g.offline.set(s.offline);
    g.inSync.set(s.inSync);
    g.lagging.set(s.lagging);
    g.pending.set(s.pending);
    g.decommissioning.set(s.decommissioning.length);
    g.deployments.set(s.deployments);
    g.releases.set(s.releases);
    // Every known phase, zeros included, so dashboards show no gaps.
    for (const phase of [...DEVICE_PHASES, 'unknown']) g.byPhase.set({ phase }, s.byPhase[phase] ?? 0);
    for (const [phase, n] of Object.entries(s.byPhase)) g.byPhase.set({ phase }, n);
    for (const b of BEHIND_BUCKETS) g.behind.set({ behind: b.label }, 0);
    let max = 0;
    for (const row of snapshot.devices) {
      const behind = versionsBehind(row);
      max = Math.max(max, behind);
      if (behind === 0) continue;
      // The last bucket's max is Infinity: every lag finds one.
      const bucket = BEHIND_BUCKETS.find((b) => behind <= b.max);
      if (bucket) g.behind.inc({ behind: bucket.label });
    }
    g.lagMax.set(max);
    for (const [release, r] of Object.entries(s.byRelease)) {
      g.releaseDesired.set({ release }, r.desired);
      g.releaseRunning.set({ release }, r.running);
    }
  }

  private setRollouts(rollouts: RolloutSummary[]): void {
    const g = this.g;
    for (const gauge of [g.rollouts, g.rolloutWave, g.rolloutWaves, g.rolloutTargeted, g.rolloutDevices]) gauge.reset();
    for (const phase of ROLLOUT_PHASES) g.rollouts.set({ phase }, 0);
    for (const r of rollouts) {
      g.rollouts.inc({ phase: r.phase });
      if (!ACTIVE.includes(r.phase)) continue;
      const labels = { rollout: r.id, app: r.app, version: r.toVersion };
      g.rolloutWave.set({ ...labels, phase: r.phase }, r.currentWave);
      g.rolloutWaves.set(labels, r.waves.length);
      g.rolloutTargeted.set(labels, r.waves.reduce((n, w) => n + w.size, 0));
      for (const [status, n] of Object.entries(r.totals)) g.rolloutDevices.set({ ...labels, status }, n);
    }
  }
}

function createGauges(registries: { main: Registry; fleet: Registry; rollouts: Registry }) {
  const fleetGauge = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Gauge<L>({ name, help, labelNames, registers: [registries.fleet] });
  const rolloutGauge = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Gauge<L>({ name, help, labelNames, registers: [registries.rollouts] });
  return {
    devices: fleetGauge('outpost_devices', 'Enrolled devices'),
    online: fleetGauge('outpost_devices_online', 'Devices whose broker presence is online'),
    offline: fleetGauge('outpost_devices_offline', 'Devices that are not online'),
    inSync: fleetGauge('outpost_devices_in_sync', 'Devices that applied their latest desired-state version'),
    lagging: fleetGauge('outpost_devices_lagging', 'Devices whose applied desired-state version is behind the stored one (never applied counts)'),
    lagMax: fleetGauge('outpost_devices_version_lag_max', 'Most desired-state versions any device is behind'),
    behind: fleetGauge('outpost_devices_versions_behind', 'Lagging devices by how many desired-state versions they are behind', ['behind']),
    byPhase: fleetGauge('outpost_devices_by_phase', 'Devices by last reported phase (unknown before the first report)', ['phase']),
    pending: fleetGauge('outpost_devices_pending', 'Devices with an accepted change not on the broker yet'),
    decommissioning: fleetGauge('outpost_devices_decommissioning', 'Devices whose decommission has steps left'),
    deployments: fleetGauge('outpost_deployments', 'Deployments'),
    releases: fleetGauge('outpost_releases', 'Releases'),
    releaseDesired: fleetGauge('outpost_release_devices_desired', 'Devices whose desired state has the release (app@version)', ['release']),
    releaseRunning: fleetGauge('outpost_release_devices_running', 'Devices in sync and converged on a desired state with the release', ['release']),
    rollouts: rolloutGauge('outpost_rollouts', 'Rollouts by phase', ['phase']),
    rolloutWave: rolloutGauge('outpost_rollout_current_wave', 'Index of the current wave of an active rollout', ['rollout', 'app', 'version', 'phase']),
    rolloutWaves: rolloutGauge('outpost_rollout_waves', 'Waves of an active rollout', ['rollout', 'app', 'version']),
    rolloutTargeted: rolloutGauge('outpost_rollout_targeted_devices', 'Devices an active rollout targets', ['rollout', 'app', 'version']),
    rolloutDevices: rolloutGauge('outpost_rollout_devices', 'Devices of an active rollout by status (pending, notified, applying, succeeded, failed, timedOut)', ['rollout', 'app', 'version', 'status']),
    collectSuccess: new Gauge({
      name: 'outpost_metrics_collect_success',
      help: '1 when the last scrape could read this part (fleet, rollouts, redis), else 0',
      labelNames: ['part'],
      registers: [registries.main],
    }),
    redisPing: new Histogram({
      name: 'outpost_redis_ping_seconds',
      help: 'Round trip of a Redis PING, one per scrape',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registries.main],
    }),
  };
}
