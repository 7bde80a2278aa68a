import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { renderAsyncApi } from '../../scripts/gen-asyncapi.js';
import { Command, ControllerTime, DesiredState, DeviceEvent, Presence, ReportedState, RolloutStatus, Telemetry, TelemetryDelta } from '../../shared/schemas/index.js';

/**
 * docs/asyncapi.json (DD-045). No AsyncAPI validator is a dependency, so the
 * document is checked against a zod schema of the AsyncAPI 3.0 subset it uses,
 * plus the cross-references a parser would resolve.
 */

const DOCS = new URL('../../docs/', import.meta.url);
const HINT = 'docs/asyncapi.json is out of date: run `npm run gen:schemas` and commit the result';
const PROTOCOL = readFileSync(fileURLToPath(new URL('protocol.md', DOCS)), 'utf8');
const PROTOCOL_SCHEMAS: Record<string, z.ZodType> = { DesiredState, ReportedState, Presence, DeviceEvent, Command, Telemetry, TelemetryDelta, RolloutStatus, ControllerTime };

const Ref = z.object({ $ref: z.string().min(1) }).strict();
const MqttOperationBinding = z.object({ qos: z.union([z.literal(0), z.literal(1), z.literal(2)]), retain: z.boolean(), bindingVersion: z.literal('0.2.0') }).strict();
const AsyncApi3 = z
  .object({
    asyncapi: z.literal('3.0.0'),
    info: z.object({ title: z.string().min(1), version: z.string().min(1), description: z.string().optional(), license: z.object({ name: z.string() }).optional() }).strict(),
    defaultContentType: z.string().optional(),
    servers: z.record(
      z.string().regex(/^[A-Za-z0-9_.-]+$/),
      z.object({ host: z.string().min(1), protocol: z.enum(['mqtt', 'mqtts']), protocolVersion: z.string().optional(), description: z.string().optional() }).strict(),
    ),
    channels: z.record(
      z.string().regex(/^[A-Za-z0-9_.-]+$/),
      z.object({ address: z.string().min(1), description: z.string().optional(), messages: z.record(z.string(), Ref), parameters: z.record(z.string(), Ref).optional() }).strict(),
    ),
    operations: z.record(
      z.string().regex(/^[A-Za-z0-9_.-]+$/),
      z.object({ action: z.enum(['send', 'receive']), channel: Ref, summary: z.string().optional(), messages: z.array(Ref).min(1), bindings: z.object({ mqtt: MqttOperationBinding }).strict() }).strict(),
    ),
    components: z
      .object({
        parameters: z.record(z.string(), z.object({ description: z.string().optional(), examples: z.array(z.string()).optional(), enum: z.array(z.string()).optional(), default: z.string().optional() }).strict()),
        messages: z.record(
          z.string(),
          z.object({
            name: z.string(),
            title: z.string().optional(),
            summary: z.string().optional(),
            contentType: z.literal('application/json'),
            payload: Ref,
            examples: z.array(z.object({ name: z.string().optional(), payload: z.unknown() }).strict()).min(1),
          }).strict(),
        ),
      })
      .strict(),
  })
  .strict();
type AsyncApi3 = z.infer<typeof AsyncApi3>;

/** Resolves a local JSON Pointer (`#/a/b`) in the document. */
function resolveLocal(doc: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = doc;
  for (const part of ref.slice(2).split('/').map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'))) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

const JsonSchemaObject = z.object({ $schema: z.string().startsWith('https://json-schema.org/'), $id: z.string(), title: z.string() }).passthrough();

describe('docs/asyncapi.json', () => {
  const rendered = renderAsyncApi(PROTOCOL);
  const path = fileURLToPath(new URL('asyncapi.json', DOCS));

  it('is up to date with the generator', () => {
    expect(existsSync(path), HINT).toBe(true);
    expect(readFileSync(path, 'utf8'), HINT).toBe(rendered);
  });

  const raw = JSON.parse(rendered) as unknown;
  const parsed = AsyncApi3.safeParse(raw);

  it('is an AsyncAPI 3.0.0 document (the subset Outpost uses)', () => {
    expect(parsed.error?.issues ?? []).toEqual([]);
  });
  const doc = parsed.data as AsyncApi3;

  it('resolves every operation channel and message reference, and each operation message belongs to its channel', () => {
    for (const [name, op] of Object.entries(doc.operations)) {
      const channel = resolveLocal(raw, op.channel.$ref);
      expect(channel, `${name}: ${op.channel.$ref}`).toBeDefined();
      for (const m of op.messages) {
        expect(m.$ref.startsWith(`${op.channel.$ref}/messages/`), `${name}: ${m.$ref}`).toBe(true);
        expect(resolveLocal(raw, m.$ref), `${name}: ${m.$ref}`).toBeDefined();
      }
    }
  });

  it('declares every address parameter, and no other', () => {
    for (const [name, channel] of Object.entries(doc.channels)) {
      const inAddress = [...channel.address.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]).sort();
      expect(Object.keys(channel.parameters ?? {}).sort(), name).toEqual(inAddress);
      for (const ref of Object.values(channel.parameters ?? {})) expect(resolveLocal(raw, ref.$ref), ref.$ref).toBeDefined();
      for (const ref of Object.values(channel.messages)) expect(resolveLocal(raw, ref.$ref), ref.$ref).toBeDefined();
    }
  });

  it('puts every protocol channel at the QoS and retain flag of protocol.md §4.1', () => {
    const bindings = Object.fromEntries(Object.values(doc.operations).map((op) => [op.channel.$ref.replace('#/channels/', ''), op.bindings.mqtt]));
    expect(bindings).toEqual({
      desired: { qos: 1, retain: true, bindingVersion: '0.2.0' },
      reported: { qos: 1, retain: true, bindingVersion: '0.2.0' },
      presence: { qos: 1, retain: true, bindingVersion: '0.2.0' },
      events: { qos: 1, retain: false, bindingVersion: '0.2.0' },
      commands: { qos: 1, retain: false, bindingVersion: '0.2.0' },
      telemetry: { qos: 0, retain: false, bindingVersion: '0.2.0' },
      rolloutStatus: { qos: 1, retain: true, bindingVersion: '0.2.0' },
      clock: { qos: 0, retain: false, bindingVersion: '0.2.0' },
    });
  });

  it('gives every message payload a JSON Schema file from docs/schemas', () => {
    for (const [name, message] of Object.entries(doc.components.messages)) {
      const file = new URL(message.payload.$ref, DOCS);
      expect(existsSync(file), `${name}: ${message.payload.$ref}`).toBe(true);
      const schema = JsonSchemaObject.safeParse(JSON.parse(readFileSync(file, 'utf8')));
      expect(schema.error?.issues ?? [], name).toEqual([]);
      expect(schema.data?.title, name).toContain(name);
    }
  });

  it('has a valid example for every message, checked with the protocol zod schema', () => {
    expect(Object.keys(doc.components.messages).sort()).toEqual(Object.keys(PROTOCOL_SCHEMAS).sort());
    for (const [name, message] of Object.entries(doc.components.messages)) {
      const schema = PROTOCOL_SCHEMAS[name];
      expect(schema, name).toBeDefined();
      for (const example of message.examples) expect(schema?.safeParse(example.payload).error?.issues ?? [], name).toEqual([]);
    }
  });

  it('the subset schema refuses another AsyncAPI version and an unknown operation action', () => {
    expect(AsyncApi3.safeParse({ ...(raw as object), asyncapi: '2.6.0' }).success).toBe(false);
    const badAction = structuredClone(raw) as { operations: Record<string, { action: string }> };
    for (const op of Object.values(badAction.operations)) op.action = 'publish';
    expect(AsyncApi3.safeParse(badAction).success).toBe(false);
  });
});
