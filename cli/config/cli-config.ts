import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { z } from 'zod';
import { formatIssues } from '../../shared/decode.js';
import { secretFileWarning, type SecretFileWarning } from '../../shared/secret-input.js';

/**
 * The CLI's own configuration file (DD-044): named contexts, each an API URL
 * with its token and CA, and which one is current. The token is stored in the
 * file itself, which is written with mode 0600 in a 0700 directory, so a
 * context keeps working when the token file it came from is moved or deleted.
 */

export const ContextName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'a context name is 1-63 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit');

export const CliContext = z
  .object({
    api: z.string().url(),
    token: z.string().min(1),
    /** PEM of the CA that signed the API's certificate (public), kept inline so the context is self-contained. */
    ca: z.string().min(1).optional(),
    insecurePlaintext: z.boolean().optional(),
  })
  .strict();
export type CliContext = z.infer<typeof CliContext>;

export const CliConfig = z
  .object({
    current: ContextName.optional(),
    contexts: z.record(ContextName, CliContext).default({}),
  })
  .strict();
export type CliConfig = z.infer<typeof CliConfig>;

type Env = Readonly<Record<string, string | undefined>>;

/** $OUTPOST_CONFIG, else $XDG_CONFIG_HOME/outpost/config.yaml, else ~/.config/outpost/config.yaml. */
export function cliConfigPath(env: Env): string {
  if (env.OUTPOST_CONFIG) return env.OUTPOST_CONFIG;
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'outpost', 'config.yaml');
}

export class CliConfigError extends Error {
  constructor(
    readonly path: string,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliConfigError';
  }
}

/** The parsed file, or an empty configuration when there is none. */
export function readCliConfig(path: string, warnings: SecretFileWarning[] = []): CliConfig {
  if (!existsSync(path)) return { contexts: {} };
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8')) ?? {};
  } catch (err) {
    throw new CliConfigError(path, `cannot read the CLI configuration ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const parsed = CliConfig.safeParse(raw);
  if (!parsed.success) throw new CliConfigError(path, `the CLI configuration ${path} is invalid: ${formatIssues(parsed.error.issues)}`);
  const warning = secretFileWarning(path);
  if (warning) warnings.push(warning);
  if (parsed.data.current !== undefined && !(parsed.data.current in parsed.data.contexts)) {
    throw new CliConfigError(path, `the CLI configuration ${path} names current context "${parsed.data.current}", which it does not hold`);
  }
  return parsed.data;
}

/** Replaces the file atomically (a reader never sees half a file), mode 0600. */
export function writeCliConfig(path: string, config: CliConfig): void {
  const checked = CliConfig.parse(config);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `# outpost CLI contexts (outpost login / outpost context); holds API tokens: keep it private\n${stringifyYaml(checked)}`, { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, path);
}
