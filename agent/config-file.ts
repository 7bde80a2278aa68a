import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { editDistance } from '../shared/edit-distance.js';
import { OutpostError, errorMessage } from '../shared/errors.js';
import { AGENT_OPTIONS_NOT_IN_FILE, AGENT_PATH_OPTIONS, agentOptions, fileKeyOf, type AgentFlags } from './options.js';

/**
 * The agent's config file (DD-043): YAML, one key per command-line option,
 * named as the option without its dashes (`state-dir: /var/lib/outpost`).
 * Read only when `--config FILE` (or env OUTPOST_AGENT_CONFIG) names it; what
 * it sets ranks below flags and environment and above the defaults.
 */

/** Where `outpost agent install` puts it, and what its unit passes to `--config`. */
export const DEFAULT_AGENT_CONFIG_FILE = '/etc/outpost/agent.yaml';

/** A number or a boolean in YAML stands for the text a flag would carry (`keepalive: 300`, `telemetry-deltas: off`). */
const scalar = z.union([z.string(), z.number(), z.boolean()], { error: 'expected a text, a number or true/false' }).transform((v) => (typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v)));

/** The file's schema, derived from the options themselves: a new option is a new key. */
export function agentFileSchema(options: readonly Option[] = agentOptions()): z.ZodObject {
  const shape: Record<string, z.ZodType> = {};
  for (const option of options) {
    const key = fileKeyOf(option);
    if (AGENT_OPTIONS_NOT_IN_FILE.has(key)) continue;
    if (option.isBoolean()) shape[key] = z.boolean({ error: 'expected true or false' }).optional();
    else if (Array.isArray(option.defaultValue)) {
      shape[key] = z
        .union([scalar, z.array(scalar)], { error: 'expected a value or a list of values' })
        .transform((v) => (Array.isArray(v) ? v : [v]))
        .optional();
    } else shape[key] = scalar.optional();
  }
  return z.strictObject(shape);
}

const squash = (s: string): string => s.toLowerCase().replace(/[-_]/g, '');


/** The known key an unknown one most likely meant, if any is close. */
export function suggestKey(unknown: string, known: readonly string[]): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const key of known) {
    const distance = editDistance(squash(unknown), squash(key));
    if (!best || distance < best.distance) best = { key, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(best.key.length / 3)) ? best.key : undefined;
}

function unknownKeyProblem(key: string, known: readonly string[]): string {
  if (AGENT_OPTIONS_NOT_IN_FILE.has(key)) return `"${key}" is not accepted: a secret goes in its own file (mode 0600), named by secret-file`;
  const suggestion = suggestKey(key, known);
  return `unknown key "${key}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`;
}

/**
 * The settings of a config file's text, as the flags they stand for. Every
 * problem is listed, each naming the file and the key.
 */
export function parseAgentConfigFile(text: string, file: string, options: readonly Option[] = agentOptions()): Partial<AgentFlags> {
  const fail = (problems: string[]): never => {
    throw new OutpostError('CONFIG_INVALID', `agent config file ${file}: ${problems.join('; ')}`);
  };
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (err) {
    return fail([`not valid YAML: ${errorMessage(err)}`]);
  }
  if (document === null || document === undefined) return {};
  if (typeof document !== 'object' || Array.isArray(document)) return fail(['expected a mapping of option names to values (e.g. "device: kiosk-a")']);
  const schema = agentFileSchema(options);
  const known = Object.keys(schema.shape);
  const problems = Object.keys(document).filter((key) => !known.includes(key)).map((key) => unknownKeyProblem(key, known));
  const parsed = schema.safeParse(document);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') continue;
      problems.push(`key "${issue.path.join('.')}": ${issue.message}`);
    }
  }
  if (problems.length || !parsed.success) return fail(problems);
  const byKey = new Map(options.map((o) => [fileKeyOf(o), o]));
  const flags: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed.data)) {
    const option = byKey.get(key);
    if (!option || value === undefined) continue;
    const fromFile = AGENT_PATH_OPTIONS.has(key) && typeof value === 'string' && !isAbsolute(value) ? resolve(dirname(file), value) : value;
    flags[option.attributeName()] = fromFile;
  }
  return flags as Partial<AgentFlags>;
}

export function readAgentConfigFile(file: string, options?: readonly Option[]): Partial<AgentFlags> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new OutpostError('CONFIG_INVALID', `agent config file ${file}: cannot be read: ${errorMessage(err)}`, { cause: err });
  }
  return parseAgentConfigFile(text, resolve(file), options);
}
