import { describe, it, expect } from 'vitest';
import { DeviceId, DEVICE_ID_PATTERN, isDeviceId, WorkloadName } from '../../shared/device-id.js';

const VALID: readonly string[] = [
  'a',
  '0',
  'dev-1',
  'edge.gw_01',
  'a-',
  'a.',
  '1.2.3',
  'x'.repeat(63),
  '3f2b9c1e-4d5a-4b6c-8d7e-9f0a1b2c3d4e',
];

const INVALID: ReadonlyArray<[label: string, id: string]> = [
  ['empty', ''],
  ['slash', 'a/b'],
  ['lone slash', '/'],
  ['plus wildcard', 'a+b'],
  ['lone plus', '+'],
  ['hash wildcard', 'a#'],
  ['lone hash', '#'],
  ['dollar', '$sys'],
  ['dollar inside', 'a$b'],
  ['space', 'a b'],
  ['leading space', ' a'],
  ['trailing space', 'a '],
  ['tab', 'a\tb'],
  ['newline', 'a\nb'],
  ['trailing newline', 'abc\n'],
  ['carriage return', 'abc\r'],
  ['upper case', 'Device'],
  ['all upper case', 'ABC'],
  ['cyrillic i look-alike', 'dev\u0456ce'],
  ['cyrillic es look-alike', 'devi\u0441e'],
  ['fullwidth d', '\uff44evice'],
  ['zero-width space', 'dev\u200bice'],
  ['unicode hyphen', 'dev\u2010ice'],
  ['64 chars', 'x'.repeat(64)],
  ['leading dash', '-a'],
  ['leading dot', '.a'],
  ['dot-dot', '..'],
  ['leading underscore', '_a'],
  ['NUL', 'a\u0000b'],
  ['trailing NUL', 'a\u0000'],
  ['colon', 'a:b'],
  ['at sign', 'a@b'],
];

describe('device id grammar', () => {
  it('pattern is the documented one', () => {
    expect(DEVICE_ID_PATTERN.source).toBe('^[a-z0-9][a-z0-9._-]{0,62}$');
  });

  it.each(VALID)('accepts %j', (id) => {
    expect(isDeviceId(id)).toBe(true);
    expect(DeviceId.safeParse(id).success).toBe(true);
  });

  it.each(INVALID)('rejects %s', (_label, id) => {
    expect(isDeviceId(id)).toBe(false);
    expect(DeviceId.safeParse(id).success).toBe(false);
  });

  it('rejects non-strings', () => {
    for (const value of [undefined, null, 1, {}, ['a'], true]) {
      expect(isDeviceId(value)).toBe(false);
      expect(DeviceId.safeParse(value).success).toBe(false);
    }
  });
});

describe('workload name grammar', () => {
  it.each(['web', 'a', 'web-1', 'web_1', 'x'.repeat(63)])('accepts %j', (name) => {
    expect(WorkloadName.safeParse(name).success).toBe(true);
  });

  // Workload names become container-name parts: no dot, unlike device ids.
  it.each(['', 'Web', '-web', '_web', 'web.app', 'we b', 'web/1', 'x'.repeat(64), 'web\n'])('rejects %j', (name) => {
    expect(WorkloadName.safeParse(name).success).toBe(false);
  });
});
