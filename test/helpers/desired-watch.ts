import mqtt, { type MqttClient } from 'mqtt';
import { randomBytes } from 'node:crypto';
import { DesiredState } from '../../shared/schemas/desired-state.js';
import { Topics } from '../../shared/topics.js';
import { waitFor } from './wait-for.js';

export interface SeenDesired {
  version: number;
  /** The document without issuedAt (content identity for "same version, same content"). */
  content: string;
  doc: DesiredState;
  /** The payload as it arrived. */
  raw: string;
}

export interface DesiredWatch {
  readonly client: MqttClient;
  /** Every desired document seen per device, in arrival order (empty payloads are clears, not listed). */
  history(deviceId: string): readonly SeenDesired[];
  latest(deviceId: string): SeenDesired | undefined;
  /** True when the last thing seen for the device was a clear (an empty retained payload). */
  lastIsClear(deviceId: string): boolean;
  waitForDoc(deviceId: string, predicate: (d: SeenDesired) => boolean, description: string, timeoutMs?: number): Promise<SeenDesired>;
  /**
   * Per device: every newly seen version is higher than all before it, and
   * a version seen again carries the same content. Returns the violations.
   */
  violations(): string[];
  close(): Promise<void>;
}

/**
 * Watches every device's desired topic as the service identity, as an
 * integration would, and records what arrives: to prove versions only go up,
 * no version is reused for other content, and what each device ends up with.
 */
export async function watchDesired(brokerUrl: string, auth: { username: string; password: string }, topics = new Topics()): Promise<DesiredWatch> {
  const client = await mqtt.connectAsync(brokerUrl, {
    ...auth,
    clientId: `svc:watch-${randomBytes(4).toString('hex')}`,
    clean: true,
    protocolVersion: 4,
    reconnectPeriod: 300,
  });
  const seen = new Map<string, SeenDesired[]>();
  const lastClear = new Map<string, boolean>();
  const problems: string[] = [];
  client.on('message', (topic, payload) => {
    const parsed = topics.parseDevice(topic);
    if (parsed?.channel !== 'desired') return;
    if (payload.length === 0) {
      lastClear.set(parsed.deviceId, true);
      return;
    }
    lastClear.set(parsed.deviceId, false);
    const doc = DesiredState.safeParse(JSON.parse(payload.toString('utf8')));
    if (!doc.success) {
      problems.push(`${parsed.deviceId}: invalid desired document: ${doc.error.message.slice(0, 300)}`);
      return;
    }
    // Content identity leaves out what a re-send of the same version may change: validity and signatures (DD-026).
    const { issuedAt: _issuedAt, expiresAt: _expiresAt, signature: _signature, trust: _trust, ...rest } = doc.data;
    const entry = { version: doc.data.version, content: JSON.stringify(rest), doc: doc.data, raw: payload.toString('utf8') };
    seen.set(parsed.deviceId, [...(seen.get(parsed.deviceId) ?? []), entry]);
  });
  await client.subscribeAsync(topics.allDevices('desired'), { qos: 1 });
  const history = (id: string): readonly SeenDesired[] => seen.get(id) ?? [];
  return {
    client,
    history,
    latest: (id) => history(id).at(-1),
    lastIsClear: (id) => lastClear.get(id) === true,
    waitForDoc: (id, predicate, description, timeoutMs = 30_000) =>
      waitFor(
        () => {
          const last = history(id).at(-1);
          return last && predicate(last) ? last : undefined;
        },
        { timeoutMs, description: `${id}: ${description}; last seen: ${JSON.stringify(history(id).at(-1)?.doc)?.slice(0, 800)}` },
      ),
    violations() {
      const out = [...problems];
      for (const [id, list] of seen) {
        const byVersion = new Map<number, string>();
        let highest = 0;
        for (const s of list) {
          const before = byVersion.get(s.version);
          if (before !== undefined) {
            if (before !== s.content) out.push(`${id}: version ${s.version} was used for two different documents`);
            continue;
          }
          if (s.version < highest) out.push(`${id}: version ${s.version} arrived after ${highest}`);
          byVersion.set(s.version, s.content);
          highest = Math.max(highest, s.version);
        }
      }
      return out;
    },
    close: () => client.endAsync(true).then(() => undefined),
  };
}

/** The retained desired document the broker holds for a device, read with a fresh subscription (null: none within `timeoutMs`). */
export async function readRetainedDesired(brokerUrl: string, auth: { username: string; password: string }, deviceId: string, timeoutMs = 1500): Promise<DesiredState | null> {
  const topics = new Topics();
  const client = await mqtt.connectAsync(brokerUrl, { ...auth, clientId: `svc:probe-${randomBytes(4).toString('hex')}`, clean: true, protocolVersion: 4, reconnectPeriod: 0 });
  try {
    return await new Promise<DesiredState | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      client.on('message', (topic, payload) => {
        if (topic !== topics.desired(deviceId) || payload.length === 0) return;
        clearTimeout(timer);
        resolve(DesiredState.parse(JSON.parse(payload.toString('utf8'))));
      });
      void client.subscribeAsync(topics.desired(deviceId), { qos: 1 });
    });
  } finally {
    await client.endAsync(true);
  }
}
