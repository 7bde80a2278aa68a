/**
 * A device's monthly byte budget from what one run measured: pure
 * arithmetic, so the table states its assumptions (30 days, one 3-workload
 * update a week, one reconnect a day, keepalive pings on an otherwise idle
 * link) and nothing else.
 */
import { CATEGORIES, type Category, type IpEstimate, type Ledger } from './traffic.js';

export const DAYS_PER_MONTH = 30;
export const UPDATES_PER_MONTH = DAYS_PER_MONTH / 7;
export const RECONNECTS_PER_MONTH = DAYS_PER_MONTH;

/** One measured episode: its MQTT packets by category and its IP-level estimate. */
export interface Episode {
  ledger: Ledger;
  ip: IpEstimate;
}

export interface ProfileMeasurement {
  profile: string;
  keepaliveS: number;
  /** One PINGREQ + PINGRESP: MQTT bytes and estimated IP bytes (with the client's pure ACK). */
  ping: { mqtt: number; ip: number; tls: number };
  /** 0 = telemetry off. */
  telemetryIntervalS: number;
  /** Average telemetry message, as sent over a day (full samples and deltas). */
  telemetry: { mqtt: number; ip: number; tls: number };
  update: Episode;
  reconnect: Episode & { tcpOpen: number; tlsHandshake: number };
}

export type BudgetRow = 'keepalive' | 'telemetry' | 'weekly update' | 'daily reconnect' | 'total';

export interface Budget {
  profile: string;
  /** Bytes per device per month at MQTT level, IP level (TCP/IP headers) and IP level with TLS. */
  monthly: Record<BudgetRow, { mqtt: number; ip: number; tls: number }>;
  /** The update and reconnect split by message purpose, MQTT bytes per month. */
  byCategory: Record<Category, number>;
  /** Idle cost (keepalive + telemetry) per day. */
  idlePerDay: { mqtt: number; ip: number; tls: number };
}

const times = (n: number, x: { mqtt: number; ip: number; tls: number }) => ({ mqtt: n * x.mqtt, ip: n * x.ip, tls: n * x.tls });

export function monthlyBudget(m: ProfileMeasurement): Budget {
  const secondsPerMonth = DAYS_PER_MONTH * 86_400;
  const pings = secondsPerMonth / m.keepaliveS;
  const samples = m.telemetryIntervalS > 0 ? secondsPerMonth / m.telemetryIntervalS : 0;
  const episode = (e: Episode, extraIp = 0, extraTls = 0) => ({
    mqtt: CATEGORIES.reduce((s, c) => s + e.ledger[c].bytes, 0),
    ip: e.ip.tcpBytes + extraIp,
    tls: e.ip.tlsBytes + extraIp + extraTls,
  });
  const keepalive = times(pings, m.ping);
  const telemetry = times(samples, m.telemetry);
  const update = times(UPDATES_PER_MONTH, episode(m.update));
  const reconnect = times(RECONNECTS_PER_MONTH, episode(m.reconnect, m.reconnect.tcpOpen, m.reconnect.tlsHandshake));
  const rows = { keepalive, telemetry, 'weekly update': update, 'daily reconnect': reconnect };
  const total = Object.values(rows).reduce((a, r) => ({ mqtt: a.mqtt + r.mqtt, ip: a.ip + r.ip, tls: a.tls + r.tls }), { mqtt: 0, ip: 0, tls: 0 });
  const byCategory = Object.fromEntries(
    CATEGORIES.map((c) => [c, m.update.ledger[c].bytes * UPDATES_PER_MONTH + m.reconnect.ledger[c].bytes * RECONNECTS_PER_MONTH]),
  ) as Record<Category, number>;
  byCategory.keepalive += keepalive.mqtt;
  byCategory.telemetry += telemetry.mqtt;
  const perDay = (x: { mqtt: number; ip: number; tls: number }) => times(1 / DAYS_PER_MONTH, x);
  const idle = perDay({ mqtt: keepalive.mqtt + telemetry.mqtt, ip: keepalive.ip + telemetry.ip, tls: keepalive.tls + telemetry.tls });
  return { profile: m.profile, monthly: { ...rows, total }, byCategory, idlePerDay: idle };
}

/**
 * The least an update can cost at MQTT level: the desired document down and
 * its PUBACK, one report up and its PUBACK (the yardstick).
 */
export function updateMinimum(ledger: Ledger, reportBytes: number): number {
  const desired = ledger.desired.bytes; // one PUBLISH + its PUBACK
  return desired + reportBytes + 4;
}
