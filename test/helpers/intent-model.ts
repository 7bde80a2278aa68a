import { Redis } from 'ioredis';
import { ApiClient, ApiClientError } from '../../cli/client/api-client.js';
import { createRollout, getRollout, operateRollout } from '../../cli/client/rollout-client.js';
import { composeDesired, prepareDeployments } from '../../controller/desired-state/compose-desired.js';
import { releaseRef } from '../../controller/model/names.js';
import { DeploymentStore } from '../../controller/registry/deployment-store.js';
import { DeviceStore } from '../../controller/registry/device-store.js';
import { Keys } from '../../controller/registry/keys.js';
import { ReleaseStore } from '../../controller/registry/release-store.js';
import { canonicalJson } from '../../shared/canonical-json.js';
import { newSecret } from '../../shared/device-credentials.js';
import { startBrokerRig, startControllerProcess, type BrokerRig, type ControllerProcess } from './controller-process.js';
import { watchDesired, type DesiredWatch } from './desired-watch.js';
import { seededRandom } from '../../shared/seeded-random.js';
import { waitFor } from './wait-for.js';

/**
 * Issue 8, test 2: a randomized model of operators and faults. Two
 * controller processes take a seeded random schedule of operator mutations
 * (deploy, deployment rm, label, override, pin, rollout create/pause/abort),
 * some sent concurrently, interleaved with kill -9 of either controller
 * (also in the middle of a request), a Redis restart (AOF) and a broker
 * restart. Every request is retried until it gets a definite answer, as a
 * careful operator (or the CLI) would. The model keeps what the
 * acknowledged mutations say. At the end, for every device: the retained
 * desired document equals the composition of the final registry; versions
 * a subscriber saw only went up; no version carried two contents; and the
 * registry holds every acknowledged mutation.
 */

export interface ModelOptions {
  seed: number;
  steps: number;
  devices?: number;
  /** Progress lines (the soak prints them); silent by default. */
  log?: (line: string) => void;
}

export interface ModelResult {
  seed: number;
  steps: number;
  /** Mutations acknowledged (2xx), and of them those that needed a retry. */
  acknowledged: number;
  retried: number;
  /** Correct refusals (a rollout selector matching nobody, pausing a finished rollout). */
  definiteRefusals: number;
  faults: { controllerKills: number; killsMidRequest: number; redisRestarts: number; brokerRestarts: number };
  /** Acknowledged mutations the final registry does not reflect. */
  lost: number;
  /** Things done twice: a version used for two documents, a duplicate deployment or rollout. */
  duplicated: number;
  /** Anything else wrong: a device not converged, a version going down, an unexpected answer to a retry. */
  unexpected: number;
  problems: string[];
  durationMs: number;
}

const APPS = { web: ['1', '2', '3'], agent: ['1', '2'] } as const;
type App = keyof typeof APPS;
const SELECTORS = ['grp=x', 'grp=y', 'site in (s1,s2)', 'site=s3', 'grp'];

interface DeploymentModel {
  app: App;
  version: string;
  target: { kind: 'selector'; selector: string } | { kind: 'devices'; devices: string[] };
  priority: number;
}

interface Model {
  labels: Map<string, Record<string, string>>;
  env: Map<string, Record<string, string>>;
  pins: Map<string, Record<string, string>>;
  deployments: Map<string, DeploymentModel>;
  /** Rollout id → the phase its last acknowledged operation implies. */
  rollouts: Map<string, 'created' | 'paused' | 'aborted'>;
}

type Op = {
  name: string;
  run: (api: ApiClient) => Promise<unknown>;
  apply: () => void;
  /** Refusals that are a correct answer to this operation in some states of the fleet. */
  definite?: (err: ApiClientError) => boolean;
};

export async function runIntentModel(opts: ModelOptions): Promise<ModelResult> {
  const started = Date.now();
  const random = seededRandom(opts.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const log = opts.log ?? (() => undefined);
  const deviceCount = opts.devices ?? 8;
  const result: ModelResult = {
    seed: opts.seed,
    steps: opts.steps,
    acknowledged: 0,
    retried: 0,
    definiteRefusals: 0,
    faults: { controllerKills: 0, killsMidRequest: 0, redisRestarts: 0, brokerRestarts: 0 },
    lost: 0,
    duplicated: 0,
    unexpected: 0,
    problems: [],
    durationMs: 0,
  };
  const problem = (kind: 'lost' | 'duplicated' | 'unexpected', text: string): void => {
    result[kind] += 1;
    result.problems.push(`${kind}: ${text}`);
  };

  const rig: BrokerRig = await startBrokerRig({ redis: { appendfsync: 'always' } });
  const controllers: (ControllerProcess | null)[] = [null, null];
  let watch: DesiredWatch | undefined;
  const redis = new Redis(rig.redis.url, { maxRetriesPerRequest: null });
  try {
    const start = async (i: number): Promise<void> => {
      controllers[i] = await startControllerProcess({
        name: `model-controller-${i}`,
        redisUrl: rig.redis.url,
        brokerUrl: rig.brokerUrl,
        servicePassword: rig.servicePassword,
        adminToken: rig.adminToken,
        extraArgs: ['--publish-lease', '2', '--rollout-poll', '1'],
      });
    };
    await Promise.all([start(0), start(1)]);
    const clientOf = (c: ControllerProcess): ApiClient => new ApiClient({ baseUrl: c.apiUrl, token: rig.adminToken, retryDelayMs: 50, timeoutMs: 20_000 });
    const live = (): ControllerProcess[] => controllers.filter((c): c is ControllerProcess => c !== null && c.proc.exitInfo === undefined);
    watch = await watchDesired(rig.brokerUrl, rig.serviceAuth);

    // The fleet and the releases.
    const model: Model = { labels: new Map(), env: new Map(), pins: new Map(), deployments: new Map(), rollouts: new Map() };
    const setupApi = clientOf(live()[0] as ControllerProcess);
    for (const [app, versions] of Object.entries(APPS)) {
      for (const v of versions) await setupApi.createRelease({ app, version: v, workloads: { main: { image: `busybox:${app}-${v}`, command: ['sleep', '3600'] } } });
    }
    const devices = Array.from({ length: deviceCount }, (_, i) => `m${opts.seed}-${i}`);
    for (const [i, id] of devices.entries()) {
      const labels = { grp: i % 2 === 0 ? 'x' : 'y', site: `s${(i % 3) + 1}` };
      await setupApi.addDevice({ id, labels, secret: newSecret() });
      model.labels.set(id, labels);
      model.env.set(id, {});
      model.pins.set(id, {});
    }
    // Every device always has a document: a baseline no operation removes.
    await setupApi.createDeployment({ id: 'base', app: 'agent', version: '1', target: { kind: 'selector', selector: 'grp' }, priority: -10 });
    model.deployments.set('base', { app: 'agent', version: '1', target: { kind: 'selector', selector: 'grp' }, priority: -10 });

    let n = 0;
    const nextOp = (): Op => {
      n += 1;
      const kind = pick(['deploy', 'deploy', 'rm', 'label', 'label', 'override', 'pin', 'rollout'] as const);
      const device = pick(devices);
      switch (kind) {
        case 'deploy': {
          const app = pick(Object.keys(APPS) as App[]);
          const version = pick(APPS[app]);
          const target: DeploymentModel['target'] =
            random() < 0.7 ? { kind: 'selector', selector: pick(SELECTORS) } : { kind: 'devices', devices: [...new Set([pick(devices), pick(devices)])] };
          const priority = Math.floor(random() * 4);
          const id = `d${opts.seed}-${n}`;
          return {
            name: `deploy ${id} ${app}@${version}`,
            run: (api) => api.createDeployment({ id, app, version, target, priority }),
            apply: () => model.deployments.set(id, { app, version, target, priority }),
          };
        }
        case 'rm': {
          const ids = [...model.deployments.keys()].filter((id) => id !== 'base');
          if (ids.length === 0) return nextOp();
          const id = pick(ids);
          return { name: `deployment rm ${id}`, run: (api) => api.removeDeployment(id), apply: () => model.deployments.delete(id) };
        }
        case 'label': {
          const key = pick(['grp', 'site'] as const);
          const value = key === 'grp' ? pick(['x', 'y']) : pick(['s1', 's2', 's3']);
          return {
            name: `label ${device} ${key}=${value}`,
            run: (api) => api.updateLabels(device, { set: { [key]: value } }),
            apply: () => model.labels.set(device, { ...model.labels.get(device), [key]: value }),
          };
        }
        case 'override': {
          const value = `v${n}`;
          return {
            name: `override ${device} MODE=${value}`,
            run: (api) => api.setOverrides(device, { env: { MODE: value } }),
            apply: () => model.env.set(device, { MODE: value }),
          };
        }
        case 'pin': {
          const app = pick(Object.keys(APPS) as App[]);
          if (random() < 0.3) {
            return {
              name: `unpin ${device} ${app}`,
              run: (api) => api.unpin(device, app),
              apply: () => {
                const pins = { ...model.pins.get(device) };
                delete pins[app];
                model.pins.set(device, pins);
              },
            };
          }
          const version = pick(APPS[app]);
          return {
            name: `pin ${device} ${app}@${version}`,
            run: (api) => api.pin(device, app, version),
            apply: () => model.pins.set(device, { ...model.pins.get(device), [app]: version }),
          };
        }
        case 'rollout': {
          const existing = [...model.rollouts.entries()].filter(([, phase]) => phase !== 'aborted');
          if (existing.length > 0 && random() < 0.6) {
            const [id, phase] = pick(existing);
            const operation = phase === 'paused' || random() < 0.5 ? 'abort' : 'pause';
            return {
              name: `rollout ${operation} ${id}`,
              run: (api) => operateRollout(api, id, operation),
              apply: () => model.rollouts.set(id, operation === 'abort' ? 'aborted' : 'paused'),
              // A rollout that finished meanwhile can no longer be paused or aborted: a definite, correct answer.
              definite: (err) => err.code === 'ROLLOUT_PHASE_CONFLICT',
            };
          }
          const id = `r${opts.seed}-${n}`;
          const spec = {
            id,
            app: 'web',
            toVersion: pick(APPS.web),
            target: { kind: 'selector', selector: pick(SELECTORS) },
            waves: { kind: 'sizes', sizes: [1, '100%'] },
            deviceTimeoutSeconds: 3600,
          };
          return {
            name: `rollout create ${id}`,
            run: (api) => createRollout(api, spec),
            apply: () => model.rollouts.set(id, 'created'),
            // A selector that matches nobody right now is a definite, correct refusal.
            definite: (err) => err.code === 'REQUEST_INVALID' && /matches no enrolled device/.test(err.message),
          };
        }
      }
    };

    /**
     * Starts the controllers that are down, once for all concurrent callers:
     * two operations finding no live controller at the same moment would
     * otherwise each start both, and two of the four would outlive the run.
     */
    let restarting: Promise<void> | null = null;
    const restartDead = (): Promise<void> =>
      (restarting ??= Promise.all(controllers.map((c, i) => (c === null || c.proc.exitInfo !== undefined ? start(i) : undefined)))
        .then(() => undefined)
        .finally(() => {
          restarting = null;
        }));

    /** Sends until a definite answer: 2xx (acknowledged) or a definite refusal. */
    const perform = async (op: Op, killMidRequest: boolean): Promise<void> => {
      let attempt = 0;
      for (;;) {
        attempt += 1;
        const targets = live();
        const target = targets.length > 0 ? pick(targets) : null;
        if (!target) {
          await restartDead();
          continue;
        }
        const request = op.run(clientOf(target));
        // Handled below; this only keeps a rejection during the kill's pause from counting as unhandled.
        request.catch(() => undefined);
        if (killMidRequest && attempt === 1) {
          await new Promise((r) => setTimeout(r, Math.floor(random() * 25)));
          target.proc.kill('SIGKILL');
          result.faults.killsMidRequest += 1;
        }
        try {
          await request;
          op.apply();
          result.acknowledged += 1;
          if (attempt > 1) result.retried += 1;
          return;
        } catch (err) {
          if (!(err instanceof ApiClientError)) throw err;
          const transient = ['API_UNREACHABLE', 'API_TIMEOUT', 'UNAVAILABLE', 'INTERNAL', 'HTTP_502', 'HTTP_504'].includes(err.code);
          if (transient && attempt < 30) {
            await target.proc.waitForExit(200).catch(() => undefined);
            continue;
          }
          if (op.definite?.(err)) {
            result.definiteRefusals += 1;
            log(`  ${op.name}: definite ${err.code}`);
            return;
          }
          problem('unexpected', `${op.name}: ${err.code} ${err.message} (attempt ${attempt})`);
          return;
        }
      }
    };

    for (let step = 0; step < opts.steps; step++) {
      const roll = random();
      if (roll < 0.06) {
        const i = Math.floor(random() * 2);
        const c = controllers[i];
        if (c && c.proc.exitInfo === undefined) {
          log(`step ${step}: kill -9 controller ${i}`);
          c.proc.kill('SIGKILL');
          await c.proc.waitForExit(10_000);
          result.faults.controllerKills += 1;
        }
        continue;
      }
      if (roll < 0.09) {
        log(`step ${step}: restart Redis`);
        await rig.redis.restart();
        result.faults.redisRestarts += 1;
        continue;
      }
      if (roll < 0.12) {
        log(`step ${step}: restart the broker`);
        await rig.stopBroker();
        await rig.startBroker();
        result.faults.brokerRestarts += 1;
        continue;
      }
      if (roll < 0.2) {
        // Dead controllers come back now and then, as a supervisor would restart them.
        await restartDead();
      }
      const concurrent = random() < 0.3 ? 2 : 1;
      const ops = Array.from({ length: concurrent }, () => nextOp());
      const killMid = random() < 0.08;
      log(`step ${step}: ${ops.map((o) => o.name).join(' | ')}${killMid ? ' (killing the controller mid-request)' : ''}`);
      await Promise.all(ops.map((op, i) => perform(op, killMid && i === 0)));
    }

    // Everyone back; then nobody does anything: the system must settle by itself.
    await restartDead();
    const verifyApi = clientOf(live()[0] as ControllerProcess);

    // Every acknowledged mutation is in the final registry.
    const keys = new Keys('outpost:');
    const deviceStore = new DeviceStore(redis, keys, Date.now);
    const deploymentStore = new DeploymentStore(redis, keys, Date.now);
    const releaseStore = new ReleaseStore(redis, keys, Date.now);
    for (const id of devices) {
      const d = await deviceStore.require(id);
      if (JSON.stringify(sorted(d.labels)) !== JSON.stringify(sorted(model.labels.get(id) ?? {}))) problem('lost', `${id} labels ${JSON.stringify(d.labels)} ≠ ${JSON.stringify(model.labels.get(id))}`);
      if (JSON.stringify(sorted(d.overrides.env)) !== JSON.stringify(sorted(model.env.get(id) ?? {}))) problem('lost', `${id} env ${JSON.stringify(d.overrides.env)} ≠ ${JSON.stringify(model.env.get(id))}`);
      if (JSON.stringify(sorted(d.overrides.pins)) !== JSON.stringify(sorted(model.pins.get(id) ?? {}))) problem('lost', `${id} pins ${JSON.stringify(d.overrides.pins)} ≠ ${JSON.stringify(model.pins.get(id))}`);
    }
    const stored = await deploymentStore.all();
    const operatorDeployments = stored.filter((d) => !d.id.startsWith('rollout-'));
    for (const [id, m] of model.deployments) {
      const d = operatorDeployments.find((x) => x.id === id);
      if (!d) problem('lost', `deployment ${id} is missing`);
      else if (d.app !== m.app || d.version !== m.version || d.priority !== m.priority || JSON.stringify(d.target) !== JSON.stringify(m.target)) problem('lost', `deployment ${id} differs`);
    }
    for (const d of operatorDeployments) if (!model.deployments.has(d.id)) problem(d.id.startsWith(`d${opts.seed}-`) ? 'lost' : 'duplicated', `deployment ${d.id} exists but was removed (or never created)`);
    const rollouts = (await redis.smembers(keys.rollouts())).sort();
    for (const [id, phase] of model.rollouts) {
      if (!rollouts.includes(id)) {
        problem('lost', `rollout ${id} is missing`);
        continue;
      }
      const r = await getRollout(verifyApi, id);
      if (phase === 'aborted' && r.phase !== 'aborted') problem('lost', `rollout ${id} is ${r.phase}, not aborted`);
      if (phase === 'paused' && !['paused', 'aborted'].includes(r.phase)) problem('lost', `rollout ${id} is ${r.phase}, not paused`);
    }
    for (const id of rollouts) if (!model.rollouts.has(id)) problem('duplicated', `rollout ${id} exists but was never acknowledged`);

    // The retained document of every device is the composition of the final registry (waits: nobody helps).
    const composedNow = async (): Promise<Map<string, string>> => {
      const deployments = prepareDeployments(await deploymentStore.all());
      const all = await deviceStore.many(devices);
      const refs = new Set((await deploymentStore.all()).map((d) => releaseRef(d.app, d.version)));
      for (const d of all) for (const [app, v] of Object.entries(d.overrides.pins)) refs.add(releaseRef(app, v));
      const releases = await releaseStore.byRefs(refs);
      return new Map(all.map((d) => [d.id, canonicalJson(composeDesired(d, deployments, releases).workloads)]));
    };
    try {
      await waitFor(
        async () => {
          const expected = await composedNow();
          return devices.every((id) => canonicalOf(watch?.latest(id)?.doc.workloads) === expected.get(id));
        },
        { timeoutMs: 60_000, intervalMs: 250, description: 'every retained desired document equals the composition of the final registry' },
      );
    } catch {
      const expected = await composedNow();
      for (const id of devices) {
        if (canonicalOf(watch.latest(id)?.doc.workloads) !== expected.get(id)) problem('unexpected', `${id} did not converge: has ${JSON.stringify(watch.latest(id)?.doc.workloads)?.slice(0, 300)}, registry says ${expected.get(id)?.slice(0, 300)}`);
      }
    }
    // What the broker retains, read afresh (not only what the watcher saw).
    for (const id of devices) {
      const detail = await verifyApi.getDevice(id);
      const latest = watch.latest(id);
      if (detail.pending) problem('unexpected', `${id} still pending at the end`);
      if (latest && detail.desiredVersion !== latest.version) problem('unexpected', `${id}: stored version ${detail.desiredVersion}, retained ${latest.version}`);
    }
    for (const v of watch.violations()) problem(v.includes('two different') ? 'duplicated' : 'unexpected', v);
    return result;
  } finally {
    result.durationMs = Date.now() - started;
    await watch?.close();
    for (const c of controllers) await c?.proc.stop();
    redis.disconnect();
    await rig.close();
  }
}

function canonicalOf(value: unknown): string | undefined {
  return value === undefined ? undefined : canonicalJson(value);
}

function sorted(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
}
