import { describe, expect, it } from 'vitest';
import { monthlyBudget, type ProfileMeasurement } from '../../bench/link/budget.js';
import { emptyLedger, estimateIp, ledgerOf, ledgerTotal } from '../../bench/link/traffic.js';
import { packetBytes } from '../helpers/mqtt-relay.js';

/** The arithmetic of `bench:link` (issue 11): what its MB-per-month table rests on. */
describe('link traffic ledger', () => {
  it('counts a PUBACK with the PUBLISH it acknowledges, per direction', () => {
    const ledger = ledgerOf([
      { direction: 'down', cmd: 'publish', topic: 'outpost/v1/devices/d/desired', messageId: 7, bytes: 400 },
      { direction: 'up', cmd: 'publish', topic: 'outpost/v1/devices/d/reported', messageId: 7, bytes: 900 },
      { direction: 'up', cmd: 'puback', messageId: 7, bytes: 4 },
      { direction: 'down', cmd: 'puback', messageId: 7, bytes: 4 },
      { direction: 'up', cmd: 'pingreq', bytes: 2 },
      { direction: 'down', cmd: 'pingresp', bytes: 2 },
      { direction: 'up', cmd: 'subscribe', messageId: 1, bytes: 40 },
    ]);
    expect(ledger.desired).toEqual({ messages: 1, bytes: 404 });
    expect(ledger.reported).toEqual({ messages: 1, bytes: 904 });
    expect(ledger.keepalive).toEqual({ messages: 1, bytes: 4 });
    expect(ledger.session).toEqual({ messages: 1, bytes: 40 });
    expect(ledgerTotal(ledger)).toBe(1352);
  });

  it('sizes packets as MQTT encodes them (1-byte header, variable length)', () => {
    expect(packetBytes(0)).toBe(2);
    expect(packetBytes(127)).toBe(129);
    expect(packetBytes(128)).toBe(131);
    expect(packetBytes(16_384)).toBe(16_388);
  });

  it('a keepalive ping is 160 bytes on IP: two segments and the client\'s pure ACK', () => {
    const ping = estimateIp([
      { direction: 'up', bytes: 2, at: 0 },
      { direction: 'down', bytes: 2, at: 1 },
    ]);
    expect(ping).toEqual({ segments: 2, pureAcks: 1, tcpBytes: 160, tlsBytes: 204 });
    // A large write is several segments; an unanswered one gets its own ACK.
    expect(estimateIp([{ direction: 'down', bytes: 3000, at: 0 }])).toMatchObject({ segments: 3, pureAcks: 1, tcpBytes: 3000 + 4 * 52 });
  });

  it('a month: 30 days of pings and samples, an update a week, a reconnect a day', () => {
    const m: ProfileMeasurement = {
      profile: 'p',
      keepaliveS: 300,
      ping: { mqtt: 4, ip: 160, tls: 204 },
      telemetryIntervalS: 3600,
      telemetry: { mqtt: 300, ip: 404, tls: 426 },
      update: { ledger: { ...emptyLedger(), desired: { messages: 1, bytes: 700 } }, ip: { segments: 2, pureAcks: 0, tcpBytes: 804, tlsBytes: 848 } },
      reconnect: { ledger: emptyLedger(), ip: { segments: 0, pureAcks: 0, tcpBytes: 0, tlsBytes: 0 }, tcpOpen: 172, tlsHandshake: 2000 },
    };
    const b = monthlyBudget(m);
    expect(b.monthly.keepalive).toEqual({ mqtt: 8640 * 4, ip: 8640 * 160, tls: 8640 * 204 });
    expect(b.monthly.telemetry.mqtt).toBe(720 * 300);
    expect(b.monthly['weekly update'].mqtt).toBeCloseTo((700 * 30) / 7);
    expect(b.monthly['daily reconnect']).toEqual({ mqtt: 0, ip: 30 * 172, tls: 30 * 2172 });
    expect(b.idlePerDay.ip).toBeCloseTo(288 * 160 + 24 * 404);
    expect(b.byCategory.keepalive).toBe(8640 * 4);
  });
});
