import type { MqttClient } from 'mqtt';

export interface RetainedReadOptions {
  /** Quiet time after the last SUBACK or message that ends the read when not every exact topic answered. */
  settleMs: number;
  /** Upper bound of the whole read. */
  maxWaitMs: number;
  /** Topics per SUBSCRIBE packet. */
  chunk?: number;
}

/**
 * Reads what the broker retains on `filters` through a fresh clean-session
 * client: topic → payload (empty payloads, i.e. deletions, are left out).
 * For exact topics the read ends as soon as each one answered; a topic with
 * nothing retained never answers, so otherwise it ends once every SUBSCRIBE
 * is acknowledged and no message came for `settleMs` (MQTT has no "end of
 * retained" signal), or at `maxWaitMs`.
 */
export async function readRetained(client: MqttClient, filters: readonly string[], options: RetainedReadOptions): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  if (filters.length === 0) return out;
  const exact = filters.every((f) => !f.includes('+') && !f.includes('#'));
  const expected = exact ? new Set(filters) : null;
  const chunk = Math.max(1, options.chunk ?? 200);
  await new Promise<void>((resolve, reject) => {
    let acked = 0;
    const chunks = Math.ceil(filters.length / chunk);
    let settle: NodeJS.Timeout | undefined;
    const done = (err?: Error): void => {
      clearTimeout(settle);
      clearTimeout(hardStop);
      client.removeListener('message', onMessage);
      if (err) reject(err);
      else resolve();
    };
    const hardStop = setTimeout(() => done(), options.maxWaitMs);
    const rearm = (): void => {
      clearTimeout(settle);
      if (acked === chunks) settle = setTimeout(() => done(), options.settleMs);
    };
    const answered = (): boolean => expected !== null && acked === chunks && [...expected].every((t) => out.has(t) || answeredEmpty.has(t));
    const answeredEmpty = new Set<string>();
    function onMessage(topic: string, payload: Buffer): void {
      if (payload.length > 0) out.set(topic, payload);
      else answeredEmpty.add(topic);
      if (answered()) done();
      else rearm();
    }
    client.on('message', onMessage);
    for (let i = 0; i < filters.length; i += chunk) {
      client.subscribe(filters.slice(i, i + chunk), { qos: 0 }, (err) => {
        if (err) return done(err);
        acked++;
        if (answered()) done();
        else rearm();
      });
    }
  });
  return out;
}
