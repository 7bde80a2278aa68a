import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeEvent, encodeReport, shortId } from '../../agent/mqtt/wire-format.js';
import { DeviceEvent, ReportedState } from '../../shared/schemas/index.js';
import { deviceEventArb, reportedStateArb } from './arbitraries/protocol.js';
import { runs } from './arbitraries/settings.js';

/**
 * DD-037: compact reports and events are the same protocol v1 documents. A
 * receiver that parses them with the schemas (any controller, older or newer:
 * the schemas did not change) gets the original back, ids shortened.
 */

const ajv = new Ajv2020({ strict: false, allErrors: false });
addFormatsModule.default(ajv);
const jsonSchema = (name: string): object =>
  JSON.parse(readFileSync(fileURLToPath(new URL(`../../docs/schemas/${name}.schema.json`, import.meta.url)), 'utf8')) as object;
// JSON has one zero (-0 is 0 once sent): inputs are taken as JSON would carry them.
const json = (x: unknown): unknown => JSON.parse(JSON.stringify(x)) as unknown;
const reportedValid = ajv.compile(jsonSchema('reported-state'));
const eventValid = ajv.compile(jsonSchema('device-event'));

describe('wire format (DD-037)', () => {
  it('shortId keeps sha256: and 12 hex digits, and leaves anything else as it is', () => {
    expect(shortId(`sha256:${'ab'.repeat(32)}`)).toBe('sha256:abababababab');
    expect(shortId('0123456789abcdef'.repeat(4))).toBe('0123456789ab');
    expect(shortId('0123456789ab')).toBe('0123456789ab');
    expect(shortId('not-a-hex-id')).toBe('not-a-hex-id');
    expect(shortId(null)).toBeNull();
  });

  it('a compact report parses to the full one with its ids shortened, under zod and the published JSON Schema', () => {
    fc.assert(
      fc.property(reportedStateArb(), (input) => {
        const doc = ReportedState.parse(json(input));
        const wire = JSON.parse(encodeReport(doc, 'compact')) as unknown;
        expect(reportedValid(wire)).toBe(true);
        const expected = {
          ...doc,
          deferred: doc.deferred ?? null,
          rollback: doc.rollback ?? null,
          workloads: Object.fromEntries(
            Object.entries(doc.workloads).map(([n, w]) => [n, { ...w, imageId: shortId(w.imageId), containerId: shortId(w.containerId), specHash: shortId(w.specHash) }]),
          ),
        };
        const parsed = ReportedState.parse(wire);
        expect({ ...parsed, stale: parsed.stale ?? null }).toEqual({ ...expected, stale: doc.stale ?? null });
        expect(encodeReport(doc, 'compact').length).toBeLessThanOrEqual(encodeReport(doc, 'full').length);
      }),
      runs(200),
    );
  });

  it('a compact event parses to exactly the full one', () => {
    fc.assert(
      fc.property(deviceEventArb(), (input) => {
        const event = DeviceEvent.parse(json(input));
        const wire = JSON.parse(encodeEvent(event, 'compact')) as unknown;
        expect(eventValid(wire)).toBe(true);
        expect(DeviceEvent.parse(wire)).toEqual(event);
      }),
      runs(200),
    );
  });

  it('full is every field, as agents before DD-037 wrote them', () => {
    const event = DeviceEvent.parse({ protocol: 1, deviceId: 'd-1', id: 'e1', at: '2026-11-30T12:00:00.000Z', type: 'agent.started', level: 'info', message: 'started' });
    expect(JSON.parse(encodeEvent(event, 'full'))).toEqual({ ...event, version: null, workload: null, code: null, data: {} });
    expect(Object.keys(JSON.parse(encodeEvent(event, 'compact')) as object)).toEqual(['protocol', 'deviceId', 'id', 'at', 'type', 'level', 'message']);
  });
});
