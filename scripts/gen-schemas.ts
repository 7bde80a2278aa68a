import { mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import { renderAsyncApi } from './gen-asyncapi.js';
import { LIMITS } from '../shared/limits.js';
import { Command, ControllerTime, DesiredState, DeviceEvent, PROTOCOL_VERSION, Presence, ReportedState, RolloutStatus, Telemetry, TelemetryDelta, WorkloadSpec } from '../shared/schemas/index.js';

/**
 * docs/schemas/*.schema.json, generated from the zod schemas in shared/schemas
 * (the single source). `renderSchemas()` is pure so that
 * test/unit/schemas-fresh.test.ts can compare it with what is committed.
 */

type JsonObject = { [key: string]: unknown };

interface SchemaSource {
  file: string;
  title: string;
  schema: z.ZodType;
  /** Checks the zod schema makes that JSON Schema cannot express (refinements). */
  agentOnlyChecks: readonly string[];
}

const WORKLOAD_CHECKS = [
  'image must be a Docker reference [registry[:port]/]name[:tag][@sha256:<64 hex>] (lower-case name)',
  'label keys must not start with "io.outpost." (reserved for the agent)',
  'absolute paths (volume source/target, workingDir) must not contain a ".." segment',
] as const;

const SOURCES: readonly SchemaSource[] = [
  { file: 'desired-state.schema.json', title: 'DesiredState', schema: DesiredState, agentOnlyChecks: WORKLOAD_CHECKS },
  { file: 'reported-state.schema.json', title: 'ReportedState', schema: ReportedState, agentOnlyChecks: [] },
  { file: 'presence.schema.json', title: 'Presence', schema: Presence, agentOnlyChecks: [] },
  { file: 'device-event.schema.json', title: 'DeviceEvent', schema: DeviceEvent, agentOnlyChecks: [] },
  { file: 'workload-spec.schema.json', title: 'WorkloadSpec', schema: WorkloadSpec, agentOnlyChecks: WORKLOAD_CHECKS },
  { file: 'command.schema.json', title: 'Command', schema: Command, agentOnlyChecks: ['restart and logs need a workload'] },
  { file: 'telemetry.schema.json', title: 'Telemetry', schema: Telemetry, agentOnlyChecks: [] },
  { file: 'telemetry-delta.schema.json', title: 'TelemetryDelta', schema: TelemetryDelta, agentOnlyChecks: [] },
  { file: 'rollout-status.schema.json', title: 'RolloutStatus', schema: RolloutStatus, agentOnlyChecks: [] },
  { file: 'controller-time.schema.json', title: 'ControllerTime', schema: ControllerTime, agentOnlyChecks: [] },
];

/** `$id` base. A URN, because the project publishes no web address for its schemas. */
export const SCHEMA_ID_BASE = `urn:outpost:protocol:v${PROTOCOL_VERSION}:schema:`;

/**
 * The record size limits are zod refinements, which z.toJSONSchema drops;
 * they map onto `maxProperties` exactly, so they are restored here. The map is
 * keyed by schema instance, taken from the exported shapes so a renamed field
 * fails to compile instead of silently losing its limit.
 */
const MAX_PROPERTIES = new Map<unknown, number>([
  [DesiredState.shape.workloads, LIMITS.maxWorkloads],
  [WorkloadSpec.shape.env.unwrap(), LIMITS.maxEnvEntries],
  [WorkloadSpec.shape.labels.unwrap(), LIMITS.maxLabels],
]);

/** Schema keywords in the order a reader wants them; anything else follows alphabetically. */
const KEYWORD_ORDER = [
  '$schema', '$id', 'title', 'description', '$comment',
  'type', 'const', 'enum', 'format', 'pattern',
  'minLength', 'maxLength', 'minimum', 'exclusiveMinimum', 'maximum', 'exclusiveMaximum', 'multipleOf',
  'default',
  'properties', 'required', 'propertyNames', 'patternProperties', 'additionalProperties', 'minProperties', 'maxProperties',
  'prefixItems', 'items', 'minItems', 'maxItems',
  'oneOf', 'anyOf', 'allOf', 'not',
  '$defs',
];
const KEYWORD_RANK = new Map(KEYWORD_ORDER.map((k, i) => [k, i]));
/** Keywords whose value is a map name → schema; the names keep source (declaration) order. */
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'dependentSchemas']);
const SCHEMA_VALUES = new Set([
  'items', 'additionalProperties', 'propertyNames', 'not', 'if', 'then', 'else', 'contains',
  'unevaluatedProperties', 'unevaluatedItems',
]);
const SCHEMA_LISTS = new Set(['oneOf', 'anyOf', 'allOf', 'prefixItems']);

export function renderSchemas(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const source of [...SOURCES].sort((a, b) => a.file.localeCompare(b.file))) {
    out[source.file] = `${JSON.stringify(renderOne(source), null, 2)}\n`;
  }
  return out;
}

function renderOne(source: SchemaSource): JsonObject {
  // Input mode: these documents are written by third parties (controllers,
  // agents in other languages) and parsed by zod on receipt, which fills in
  // defaults. A writer may omit a defaulted field, so such fields must not be
  // `required` here; output mode would describe the parsed object instead and
  // reject valid documents that leave, e.g., `restart` or `provenance` out.
  const generated = z.toJSONSchema(source.schema, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'throw',
    override: ({ zodSchema, jsonSchema }) => {
      const max = MAX_PROPERTIES.get(zodSchema);
      if (max !== undefined) jsonSchema.maxProperties = max;
      // zod checks IPv6 with the URL parser, which admits the mixed notation
      // (::ffff:192.0.2.1) that the regex it exports does not: `format` alone
      // says what receivers accept (test/property/protocol-schemas.test.ts).
      if (jsonSchema.format === 'ipv6') delete jsonSchema.pattern;
    },
  }) as JsonObject;

  const description = typeof generated.description === 'string' ? generated.description : source.title;
  const comment = [
    'Generated from shared/schemas by scripts/gen-schemas.ts; do not edit, run `npm run gen:schemas`.',
    'Input form: a field with a default may be omitted and the receiver fills it in.',
    ...(source.agentOnlyChecks.length > 0
      ? [`Receivers also enforce checks JSON Schema cannot express: ${source.agentOnlyChecks.join('; ')}.`]
      : []),
  ].join(' ');

  return normalizeSchema({
    ...generated,
    $id: `${SCHEMA_ID_BASE}${source.file.replace(/\.schema\.json$/, '')}`,
    title: `Outpost ${source.title} (protocol v${PROTOCOL_VERSION})`,
    description,
    $comment: comment,
  });
}

/** Fixed keyword order at every level, so the bytes depend only on the zod source. */
function normalizeSchema(schema: JsonObject): JsonObject {
  const keys = Object.keys(schema).sort((a, b) => {
    const ra = KEYWORD_RANK.get(a) ?? KEYWORD_ORDER.length;
    const rb = KEYWORD_RANK.get(b) ?? KEYWORD_ORDER.length;
    return ra !== rb ? ra - rb : a < b ? -1 : a > b ? 1 : 0;
  });
  const out: JsonObject = {};
  for (const key of keys) {
    const value = schema[key];
    if (SCHEMA_MAPS.has(key) && isObject(value)) {
      const map: JsonObject = {};
      for (const [name, sub] of Object.entries(value)) map[name] = isObject(sub) ? normalizeSchema(sub) : sub;
      out[key] = map;
    } else if (SCHEMA_VALUES.has(key) && isObject(value)) {
      out[key] = normalizeSchema(value);
    } else if (SCHEMA_LISTS.has(key) && Array.isArray(value)) {
      out[key] = value.map((sub: unknown) => (isObject(sub) ? normalizeSchema(sub) : sub));
    } else {
      out[key] = value;
    }
  }
  return out;
}

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Writes every rendered schema and deletes schema files that are no longer generated. */
export function writeSchemas(dir: string): { written: string[]; removed: string[] } {
  mkdirSync(dir, { recursive: true });
  const rendered = renderSchemas();
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.json') && !(name in rendered)) {
      rmSync(join(dir, name));
      removed.push(name);
    }
  }
  for (const [name, content] of Object.entries(rendered)) writeFileSync(join(dir, name), content);
  return { written: Object.keys(rendered), removed };
}

function main(argv: readonly string[]): void {
  // Runs as dist/scripts/gen-schemas.js; `--out DIR` serves builds with another outDir.
  const outFlag = argv.indexOf('--out');
  const outArg = outFlag >= 0 ? argv[outFlag + 1] : undefined;
  if (outFlag >= 0 && outArg === undefined) throw new Error('--out needs a directory');
  const dir = outArg ?? fileURLToPath(new URL('../../docs/schemas/', import.meta.url));
  const { written, removed } = writeSchemas(dir);
  process.stdout.write(`wrote ${written.length} schemas to ${dir}${removed.length ? `; removed ${removed.join(', ')}` : ''}\n`);
  // DD-045: the AsyncAPI document sits next to the schemas it references.
  const asyncApiPath = join(dir, '..', 'asyncapi.json');
  const protocol = readFileSync(fileURLToPath(new URL('../../docs/protocol.md', import.meta.url)), 'utf8');
  writeFileSync(asyncApiPath, renderAsyncApi(protocol));
  process.stdout.write(`wrote ${asyncApiPath}\n`);
}

function invokedDirectly(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (invokedDirectly()) main(process.argv.slice(2));
