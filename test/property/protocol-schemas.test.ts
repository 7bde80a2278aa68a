import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { canonicalJson } from '../../shared/canonical-json.js';
import { decodeJson } from '../../shared/decode.js';
import { Command, DesiredState, DeviceEvent, Presence, ReportedState, RolloutStatus, Telemetry, TelemetryDelta, WorkloadSpec } from '../../shared/schemas/index.js';
import { deepJsonArb, nearValid } from './arbitraries/mutate.js';
import {
  commandArb,
  desiredStateArb,
  deviceEventArb,
  presenceArb,
  reportedStateArb,
  rolloutStatusArb,
  telemetryArb,
  telemetryDeltaArb,
  workloadSpecArb,
} from './arbitraries/protocol.js';
import { runs } from './arbitraries/settings.js';

/**
 * Every protocol schema (shared/schemas) against generated input: it never
 * throws anything but a ZodError, valid documents round-trip through JSON,
 * and the published JSON Schema (docs/schemas) agrees with it.
 */

const ajv = new Ajv2020({ strict: false, allErrors: false });
// ajv-formats is CommonJS: its function is both module.exports and `.default`.
addFormatsModule.default(ajv);

const schemaFile = (name: string): object =>
  JSON.parse(readFileSync(fileURLToPath(new URL(`../../docs/schemas/${name}.schema.json`, import.meta.url)), 'utf8')) as object;

interface Case {
  name: string;
  schema: z.ZodType;
  valid: fc.Arbitrary<unknown>;
  jsonSchema: string;
}

const CASES: Case[] = [
  { name: 'DesiredState', schema: DesiredState, valid: desiredStateArb(), jsonSchema: 'desired-state' },
  { name: 'WorkloadSpec', schema: WorkloadSpec, valid: workloadSpecArb(), jsonSchema: 'workload-spec' },
  { name: 'ReportedState', schema: ReportedState, valid: reportedStateArb(), jsonSchema: 'reported-state' },
  { name: 'Presence', schema: Presence, valid: presenceArb(), jsonSchema: 'presence' },
  { name: 'DeviceEvent', schema: DeviceEvent, valid: deviceEventArb(), jsonSchema: 'device-event' },
  { name: 'Command', schema: Command, valid: commandArb(), jsonSchema: 'command' },
  { name: 'Telemetry', schema: Telemetry, valid: telemetryArb(), jsonSchema: 'telemetry' },
  { name: 'TelemetryDelta', schema: TelemetryDelta, valid: telemetryDeltaArb(), jsonSchema: 'telemetry-delta' },
  { name: 'RolloutStatus', schema: RolloutStatus, valid: rolloutStatusArb(), jsonSchema: 'rollout-status' },
];

/**
 * The refinements JSON Schema cannot express, as the generated files list
 * them in their $comment: the only reasons the agent may refuse what the
 * JSON Schema admits.
 */
const AGENT_ONLY = [/^image must be a Docker reference/, /reserved for the agent/, /must not contain "\.\."/, /^restart and logs need a workload$/];
/** Receivers refuse a `__proto__` key anywhere (shared/decode.ts, protocol §6.1), which the JSON Schemas do not spell out. */
const PROTO_KEY = /"__proto__" is not allowed as a key$/;
const CODES = { tooLarge: 'DESIRED_TOO_LARGE', invalidJson: 'DESIRED_INVALID_JSON', schema: 'DESIRED_SCHEMA' } as const;

/** Any JS value, JSON or not (undefined, bigint, Map, boxed values, null prototypes, sparse arrays...). */
const anyValue = fc.anything({
  maxDepth: 3,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
});

// JSON has one zero: -0 and 0 are the same document, so parsed forms are compared as canonical JSON.

/** parse() either returns or throws a ZodError: nothing else ever escapes. */
function parseOrZodError(schema: z.ZodType, input: unknown): { ok: true; value: unknown } | { ok: false; error: z.ZodError } {
  try {
    return { ok: true, value: schema.parse(input) };
  } catch (err) {
    if (err instanceof z.ZodError) return { ok: false, error: err };
    throw err;
  }
}

/** Paths of object keys present in `input` but missing from `output` (defaults may add keys; none may vanish). */
function droppedKeys(input: unknown, output: unknown, path = ''): string[] {
  if (Array.isArray(input)) return Array.isArray(output) ? input.flatMap((v, i) => droppedKeys(v, output[i], `${path}[${i}]`)) : [];
  if (input === null || typeof input !== 'object') return [];
  if (output === null || typeof output !== 'object') return [path || '(root)'];
  return Object.keys(input).flatMap((k) =>
    Object.hasOwn(output, k) ? droppedKeys((input as Record<string, unknown>)[k], (output as Record<string, unknown>)[k], `${path}.${k}`) : [`${path}.${k}`],
  );
}

describe.each(CASES)('$name', ({ schema, valid, jsonSchema }) => {
  const validate = ajv.compile(schemaFile(jsonSchema));

  it('random values of any type: a result or a ZodError, never another exception', () => {
    fc.assert(
      fc.property(anyValue, (input) => {
        parseOrZodError(schema, input);
      }),
      runs(300),
    );
  });

  it('random bytes and deeply nested JSON through decodeJson: a coded verdict, never an exception', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.string({ maxLength: 200, unit: 'binary' }).map((s) => Buffer.from(s)), deepJsonArb('data').map((s) => Buffer.from(s))), (bytes) => {
        const verdict = decodeJson(Buffer.from(bytes), schema, 1 << 20, CODES);
        if (!verdict.ok) expect(Object.values(CODES)).toContain(verdict.code);
      }),
      runs(200),
    );
  });

  it('valid documents parse, keep every key they were sent with, and the parsed form round-trips through JSON unchanged', () => {
    fc.assert(
      fc.property(valid, (doc) => {
        const first = schema.safeParse(doc);
        if (!first.success) throw new Error(`valid document refused: ${first.error.message}`);
        expect(droppedKeys(JSON.parse(JSON.stringify(doc)), first.data), 'keys the parser dropped silently').toEqual([]);
        const again = schema.parse(JSON.parse(JSON.stringify(first.data)));
        expect(canonicalJson(again)).toBe(canonicalJson(first.data));
      }),
      runs(200),
    );
  });

  it('valid documents pass the published JSON Schema', () => {
    fc.assert(
      fc.property(valid, (doc) => {
        if (!validate(doc)) throw new Error(`JSON Schema refused a valid document: ${ajv.errorsText(validate.errors)}`);
      }),
      runs(200),
    );
  });

  it('near-valid documents on the wire: what a receiver accepts the JSON Schema accepts; the JSON Schema admits more only where a documented receiver check refuses', () => {
    fc.assert(
      fc.property(nearValid(valid), (doc) => {
        const bytes = JSON.stringify(doc);
        const verdict = decodeJson(bytes, schema, 1 << 20, CODES);
        const bySchema = validate(JSON.parse(bytes));
        if (verdict.ok) {
          if (!bySchema) throw new Error(`accepted what the JSON Schema refuses: ${ajv.errorsText(validate.errors)}`);
          // Strict objects: what comes out parses again to itself (no unknown keys carried along).
          expect(canonicalJson(schema.parse(JSON.parse(JSON.stringify(verdict.value))))).toBe(canonicalJson(verdict.value));
        } else if (bySchema) {
          expect(verdict.code).toBe('DESIRED_SCHEMA');
          if (PROTO_KEY.test(verdict.reason)) return;
          const issues = parseOrZodError(schema, JSON.parse(bytes));
          const undocumented = issues.ok ? ['accepted by zod alone'] : issues.error.issues.filter((i) => !AGENT_ONLY.some((re) => re.test(i.message)));
          expect(undocumented, 'refused for a reason the JSON Schema should express').toEqual([]);
        }
      }),
      runs(400),
    );
  });
});
