import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import mqtt from 'mqtt';
import { systemClock } from '../shared/clock.js';
import { createLogger, type Logger } from '../shared/logger.js';
import { errorMessage } from '../shared/errors.js';
import { redactUrl } from '../shared/redact-url.js';
import { SECRET_FILE_WARNING, type SecretFileWarning } from '../shared/secret-input.js';
import { agentConfigFromFlags, secretFileSetting } from './config-sources.js';
import { Agent } from './agent.js';
import type { AgentConfig } from './config.js';
import { DockerRuntime } from './runtime/docker-runtime.js';
import { StateStore } from './state/state-store.js';
import { tlsMaterialFromFiles, type TlsMaterial } from './mqtt/tls-files.js';
import type { Step } from './reconcile/steps.js';
import { agentOptions, type AgentFlags } from './options.js';
import { registerInstallCommand } from './install/install-command.js';

export { agentConfigFromFlags };

function secretFileOf(flags: AgentFlags, env: NodeJS.ProcessEnv, file: Partial<AgentFlags>): string | undefined {
  if (flags.secret ?? env.OUTPOST_DEVICE_SECRET) return undefined;
  return secretFileSetting(flags, env, file);
}

/**
 * The secret file's current content at each connection attempt, so a
 * rotated secret is used from the next reconnect on. An unreadable or empty
 * file keeps the last good secret (and says so once).
 */
function secretFromFile(file: string, initial: string, logger: Logger): () => string {
  let last = initial;
  let warned = false;
  return () => {
    try {
      const value = readFileSync(file, 'utf8').trim();
      if (value) {
        last = value;
        warned = false;
      }
    } catch (err) {
      if (!warned) logger.warn({ file, err: errorMessage(err) }, 'cannot read the secret file; using the last secret read');
      warned = true;
    }
    return last;
  };
}

function readBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return randomUUID();
  }
}

/**
 * Fault injection for the crash-safety tests: OUTPOST_FAULT_CRASH_AFTER=<step kind>
 * makes the agent kill -9 itself right after the first step of that kind.
 */
function crashHook(env: NodeJS.ProcessEnv): ((step: Step) => void) | undefined {
  const kind = env.OUTPOST_FAULT_CRASH_AFTER;
  if (!kind) return undefined;
  return (step) => {
    if (step.kind === kind) {
      process.stderr.write(`fault injection: SIGKILL after ${step.kind}\n`);
      process.kill(process.pid, 'SIGKILL');
    }
  };
}

export function registerAgentCommand(program: Command): void {
  // `agent install` takes the same options as `agent`; commander hands them to the subcommand only when
  // every command above it stops parsing options at its subcommand. The program has no options of its own.
  program.enablePositionalOptions();
  const command = program
    .command('agent')
    .description('run the device agent: keeps this device\'s containers at the desired state published for it')
    .enablePositionalOptions()
    .option('--config <file>', 'YAML file with any of these options, keys named as the options without dashes; flags and env win over it (env OUTPOST_AGENT_CONFIG)');
  for (const option of agentOptions()) command.addOption(option);
  registerInstallCommand(command);
  command
    .action(async (flags: AgentFlags & { config?: string }) => {
      let config: Readonly<AgentConfig>;
      const secretWarnings: SecretFileWarning[] = [];
      const configFile = flags.config ?? process.env.OUTPOST_AGENT_CONFIG;
      let fromFile: Partial<AgentFlags> = {};
      try {
        // Loaded only when asked for: an agent without a config file never evaluates the YAML parser.
        if (configFile) fromFile = (await import('./config-file.js')).readAgentConfigFile(configFile);
        config = agentConfigFromFlags(flags, process.env, secretWarnings, fromFile);
      } catch (err) {
        const source = configFile && !errorMessage(err).startsWith('agent config file') ? ` (settings from flags, environment and ${configFile})` : '';
        process.stderr.write(`outpost agent: ${errorMessage(err)}${source}\n`);
        process.exit(2);
      }
      const logger = createLogger({ level: config.logLevel, format: config.logFormat, name: 'agent' });
      for (const w of secretWarnings) logger.warn(w, SECRET_FILE_WARNING);
      let currentTls: (() => TlsMaterial) | undefined;
      try {
        const tlsFiles = { caFile: config.caFile, certFile: config.certFile, keyFile: config.keyFile };
        currentTls = Object.values(tlsFiles).some((f) => f !== undefined) ? tlsMaterialFromFiles(tlsFiles, logger) : undefined;
      } catch (err) {
        process.stderr.write(`outpost agent: ${errorMessage(err)}\n`);
        process.exit(2);
      }
      const agent = new Agent({
        config,
        runtime: new DockerRuntime(config.dockerSocket ? { socketPath: config.dockerSocket } : {}),
        store: new StateStore(config.stateDir, config.deviceId, logger.child({ component: 'state' })),
        connect: (url, opts) => mqtt.connect(url, opts),
        clock: systemClock,
        random: Math.random,
        logger,
        bootId: readBootId(),
        ...(crashHook(process.env) ? { afterStep: crashHook(process.env) } : {}),
        ...(secretFileOf(flags, process.env, fromFile) ? { currentSecret: secretFromFile(secretFileOf(flags, process.env, fromFile) as string, config.secret ?? '', logger) } : {}),
        ...(currentTls ? { currentTls } : {}),
      });
      const shutdown = (signal: string): void => {
        logger.info({ signal }, 'agent stopping');
        agent.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
        setTimeout(() => process.exit(1), 10_000).unref();
      };
      process.once('SIGINT', () => shutdown('SIGINT'));
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.on('unhandledRejection', (err) => logger.error({ err: errorMessage(err) }, 'unhandled rejection'));
      await agent.start();
      logger.info({ broker: redactUrl(config.brokerUrl), stateDir: config.stateDir }, 'agent started');
    });
}
