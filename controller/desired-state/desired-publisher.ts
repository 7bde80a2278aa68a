import type { Redis } from 'ioredis';
import type { Logger } from '../../shared/logger.js';
import { PROTOCOL_VERSION } from '../../shared/schemas/common.js';
import { DesiredState } from '../../shared/schemas/desired-state.js';
import type { Topics } from '../../shared/topics.js';
import { canonicalJson, sha256Hex } from '../../shared/canonical-json.js';
import { errorMessage } from '../../shared/errors.js';
import type { ServicePublisher } from '../mqtt/service-publisher.js';
import type { Device } from '../model/device.js';
import { releaseRef } from '../model/names.js';
import type { DeploymentStore } from '../registry/deployment-store.js';
import type { DeviceStore } from '../registry/device-store.js';
import type { Keys } from '../registry/keys.js';
import type { ReleaseStore } from '../registry/release-store.js';
import { SerialQueue } from '../registry/serial.js';
import { composeDesired, prepareDeployments } from './compose-desired.js';
import { readDesiredHeads } from './desired-record.js';

/** Stands for the version in a document template until Redis assigns it. */
const VERSION_PLACEHOLDER = 1;

/**
 * KEYS: desired record, version counter. ARGV: content hash, document JSON
 * with "version":1 as placeholder, issuedAt. When the stored hash already
 * equals ours, returns {current version, false}; else increments the counter,
 * stores the document with that version and returns {version, document}.
 */
const VERSION_AND_STORE = `
if redis.call('HGET', KEYS[1], 'hash') == ARGV[1] then
  return { tonumber(redis.call('HGET', KEYS[1], 'version') or '0'), false }
end
local v = redis.call('INCR', KEYS[2])
local doc = string.gsub(ARGV[2], '"version":1,', '"version":' .. v .. ',', 1)
redis.call('HSET', KEYS[1], 'doc', doc, 'hash', ARGV[1], 'version', v, 'publishedAt', ARGV[3])
return { v, doc }`;

/** Hash of a document with no workloads: a device that never had any needs no document. */
export const EMPTY_CONTENT_HASH = sha256Hex(canonicalJson({ workloads: {}, provenance: {} }));

export interface RecomputeResult {
  considered: number;
  published: { deviceId: string; version: number }[];
  unchanged: number;
  problems: Record<string, string[]>;
}

export interface DesiredPublisherDeps {
  redis: Redis;
  keys: Keys;
  topics: Topics;
  devices: DeviceStore;
  deployments: DeploymentStore;
  releases: ReleaseStore;
  mqtt: ServicePublisher;
  logger: Logger;
  now: () => number;
  batchSize?: number;
}

/**
 * Turns registry state into published desired documents. For the devices in
 * scope it composes each document, compares its content hash with the last
 * published one, and for those that changed assigns the next version (INCR,
 * never reset) and publishes retained QoS 1 — in pipelined batches, so a
 * change touching 10,000 devices costs a few round trips per batch, not per
 * device. Unchanged documents are never republished.
 */
export class DesiredPublisher {
  private readonly serial = new SerialQueue();

  constructor(private readonly deps: DesiredPublisherDeps) {}

  /** Recompute the given devices (all devices when omitted). Calls are serialized in-process. */
  recompute(deviceIds?: readonly string[]): Promise<RecomputeResult> {
    return this.serial.run(() => this.run(deviceIds));
  }

  private async run(deviceIds?: readonly string[]): Promise<RecomputeResult> {
    const { deps } = this;
    const deployments = await deps.deployments.all();
    const devices = deviceIds ? await deps.devices.many([...new Set(deviceIds)]) : await deps.devices.all();
    const refs = new Set(deployments.map((d) => releaseRef(d.app, d.version)));
    for (const d of devices) for (const [app, version] of Object.entries(d.overrides.pins)) refs.add(releaseRef(app, version));
    const releases = await deps.releases.byRefs(refs);
    const prepared = prepareDeployments(deployments);
    const result: RecomputeResult = { considered: devices.length, published: [], unchanged: 0, problems: {} };
    const batchSize = deps.batchSize ?? 500;
    for (let i = 0; i < devices.length; i += batchSize) {
      await this.publishBatch(devices.slice(i, i + batchSize), prepared, releases, result);
    }
    if (result.published.length > 0) {
      deps.logger.info({ considered: result.considered, published: result.published.length, unchanged: result.unchanged }, 'desired states published');
    }
    return result;
  }

  private async publishBatch(
    batch: readonly Device[],
    prepared: ReturnType<typeof prepareDeployments>,
    releases: Awaited<ReturnType<ReleaseStore['byRefs']>>,
    result: RecomputeResult,
  ): Promise<void> {
    const { deps } = this;
    const heads = await readDesiredHeads(deps.redis, deps.keys, batch.map((d) => d.id));
    const changed: { device: Device; composed: ReturnType<typeof composeDesired> }[] = [];
    for (const device of batch) {
      const composed = composeDesired(device, prepared, releases);
      if (composed.problems.length) result.problems[device.id] = composed.problems;
      const previous = heads.get(device.id)?.hash ?? EMPTY_CONTENT_HASH;
      if (composed.contentHash === previous) result.unchanged++;
      else changed.push({ device, composed });
    }
    if (changed.length === 0) return;

    // Compare-and-version in one atomic step per device (DD-017): a document whose content another
    // controller process has just published gets no second version.
    const issuedAt = new Date(deps.now()).toISOString();
    const pipeline = deps.redis.pipeline();
    for (const c of changed) {
      const template = JSON.stringify(
        DesiredState.parse({
          protocol: PROTOCOL_VERSION,
          deviceId: c.device.id,
          version: VERSION_PLACEHOLDER,
          issuedAt,
          workloads: c.composed.workloads,
          provenance: c.composed.provenance,
          signature: null,
        }),
      );
      pipeline.eval(VERSION_AND_STORE, 2, deps.keys.desired(c.device.id), deps.keys.version(c.device.id), c.composed.contentHash, template, issuedAt);
    }
    const results = (await pipeline.exec()) ?? [];
    const docs: { deviceId: string; version: number; payload: string }[] = [];
    changed.forEach((c, i) => {
      const [err, value] = results[i] ?? [new Error('no reply'), null];
      if (err) throw err;
      const [version, payload] = value as [number, string | null];
      if (!payload) {
        result.unchanged++;
        return;
      }
      docs.push({ deviceId: c.device.id, version, payload });
    });

    // Stored before published: if we crash in between, anti-entropy sees the
    // broker's retained copy is older than the record and publishes it.
    const outcomes = await Promise.allSettled(
      docs.map((d) => deps.mqtt.publish(deps.topics.desired(d.deviceId), d.payload, { retain: true, qos: 1 })),
    );
    outcomes.forEach((o, i) => {
      const d = docs[i];
      if (!d) return;
      if (o.status === 'fulfilled') result.published.push({ deviceId: d.deviceId, version: d.version });
      else deps.logger.warn({ deviceId: d.deviceId, version: d.version, err: errorMessage(o.reason) }, 'desired state stored but not yet published; anti-entropy will retry');
    });
  }
}
