import { describe, it, expect } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { renderSchemas } from '../../scripts/gen-schemas.js';
import { Command, ControllerTime, DesiredState, DeviceEvent, Presence, ReportedState, RolloutStatus, Telemetry, TelemetryDelta } from '../../shared/schemas/index.js';

const SCHEMA_DIR = fileURLToPath(new URL('../../docs/schemas/', import.meta.url));
const HINT = 'docs/schemas is out of date with shared/schemas: run `npm run gen:schemas` and commit the result';

describe('docs/schemas', () => {
  const rendered = renderSchemas();

  it('renders the protocol schemas', () => {
    expect(Object.keys(rendered).sort()).toEqual([
      'command.schema.json',
      'controller-time.schema.json',
      'desired-state.schema.json',
      'device-event.schema.json',
      'presence.schema.json',
      'reported-state.schema.json',
      'rollout-status.schema.json',
      'telemetry-delta.schema.json',
      'telemetry.schema.json',
      'workload-spec.schema.json',
    ]);
  });

  it('renders deterministically', () => {
    expect(renderSchemas()).toEqual(rendered);
  });

  it.each(Object.keys(rendered))('%s is current', (file) => {
    const path = join(SCHEMA_DIR, file);
    expect(existsSync(path), `${file} is missing. ${HINT}`).toBe(true);
    expect(readFileSync(path, 'utf8'), `${file} is stale. ${HINT}`).toBe(rendered[file]);
  });

  it('holds no schema that is no longer generated', () => {
    const leftovers = existsSync(SCHEMA_DIR)
      ? readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.json') && !(f in rendered))
      : [];
    expect(leftovers, `not generated any more: ${leftovers.join(', ')}. ${HINT}`).toEqual([]);
  });
});

describe('rendered JSON Schema', () => {
  const desired = JSON.parse(renderSchemas()['desired-state.schema.json'] ?? '{}') as Record<string, unknown>;

  it('is draft 2020-12 with id, title and description', () => {
    expect(desired.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(desired.$id).toBe('urn:outpost:protocol:v1:schema:desired-state');
    expect(desired.title).toMatch(/DesiredState/);
    expect(typeof desired.description).toBe('string');
  });

  it('describes the input form: defaulted fields are optional, unknown fields refused', () => {
    expect(desired.required).toEqual(['protocol', 'deviceId', 'version', 'issuedAt', 'workloads']);
    expect(desired.additionalProperties).toBe(false);
  });

  it('ends with a newline and is pretty-printed', () => {
    for (const content of Object.values(renderSchemas())) {
      expect(content.endsWith('}\n')).toBe(true);
      expect(content).toBe(`${JSON.stringify(JSON.parse(content), null, 2)}\n`);
    }
  });
});

describe('docs/protocol.md examples', () => {
  // Every JSON example is preceded by `<!-- example: SchemaName -->` and must
  // parse, so the prose cannot drift away from the schemas unnoticed.
  const SCHEMAS: Record<string, z.ZodType> = { DesiredState, ReportedState, Presence, DeviceEvent, Command, Telemetry, TelemetryDelta, RolloutStatus, ControllerTime };
  const text = readFileSync(fileURLToPath(new URL('../../docs/protocol.md', import.meta.url)), 'utf8');
  const examples = [...text.matchAll(/<!-- example: (\w+) -->\n```json\n([\s\S]*?)\n```/g)].map((m, i) => ({
    label: `#${i + 1} ${m[1] ?? ''}`,
    schema: m[1] ?? '',
    json: m[2] ?? '',
  }));

  it('has an example of every message', () => {
    expect(new Set(examples.map((e) => e.schema))).toEqual(new Set(Object.keys(SCHEMAS)));
  });

  it.each(examples)('example $label is valid', ({ schema, json }) => {
    const zodSchema = SCHEMAS[schema];
    expect(zodSchema, `unknown schema ${schema}`).toBeDefined();
    const result = zodSchema?.safeParse(JSON.parse(json));
    expect(result?.error?.issues ?? []).toEqual([]);
  });
});
