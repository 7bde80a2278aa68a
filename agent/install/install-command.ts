import { execFile } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { Option, type Command } from 'commander';
import { errorMessage, OutpostError } from '../../shared/errors.js';
import { readSecretFile, secretOnCommandLine } from '../../shared/secret-input.js';
import { agentConfigFromFlags } from '../config-sources.js';
import { AGENT_PATH_OPTIONS, agentOptions, fileKeyOf, type AgentFlags } from '../options.js';
import type { InstallPlan } from './install-plan.js';
import type { WrittenFile } from './write-install.js';

interface InstallFlags extends AgentFlags {
  deviceId?: string;
  secretStdin?: boolean;
  root: string;
  force?: boolean;
  enable?: boolean;
}

/** Options the plan sets itself (to the installed copies), not copied from the flags. */
const PLANNED_KEYS = new Set(['device', 'secret', 'secret-file', 'trust', 'state-dir']);

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks).toString('utf8').trim();
}

/** The agent options given to install, as config-file settings (paths made absolute). */
function settingsOf(command: Command): Record<string, string | boolean | string[]> {
  const settings: Record<string, string | boolean | string[]> = {};
  for (const option of agentOptions()) {
    const key = fileKeyOf(option);
    if (PLANNED_KEYS.has(key)) continue;
    const value: unknown = command.getOptionValue(option.attributeName());
    if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
    settings[key] = AGENT_PATH_OPTIONS.has(key) && typeof value === 'string' ? resolve(value) : (value as string | boolean | string[]);
  }
  return settings;
}

/** The program the unit runs: the file node was started with (the `outpost` CLI or the bundled outpost-agent.js). */
function entryPath(): string {
  const script = process.argv[1];
  if (!script) throw new OutpostError('CONFIG_INVALID', 'cannot tell which program is running: start install as `outpost agent install` or `node outpost-agent.js agent install`');
  return realpathSync(script);
}

/** Repeated from install-plan.ts, which (with the YAML library) loads only when install runs. */
const UNIT_NAME = 'outpost-agent.service';

async function plan(flags: InstallFlags, command: Command): Promise<InstallPlan> {
  const [{ planInstall }, { parseAgentConfigFile }] = await Promise.all([import('./install-plan.js'), import('../config-file.js')]);
  if (flags.secret !== undefined) throw new Error(secretOnCommandLine('--secret', '--secret-file FILE or --secret-stdin'));
  const deviceId = flags.device ?? flags.deviceId;
  if (!deviceId) throw new OutpostError('CONFIG_INVALID', '--device ID is required');
  if (flags.secretStdin && flags.secretFile) throw new OutpostError('CONFIG_INVALID', '--secret-file and --secret-stdin exclude each other');
  const secret = flags.secretStdin ? await readStdin() : flags.secretFile ? readSecretFile(flags.secretFile, []) : undefined;
  if (secret === '') throw new OutpostError('CONFIG_INVALID', `the device secret is empty (${flags.secretStdin ? 'stdin' : flags.secretFile})`);
  const root = resolve(flags.root);
  const settings = settingsOf(command);
  // The settings must make an agent that starts: check them as the agent will, with the sources given here.
  agentConfigFromFlags({ ...flags, device: deviceId, secretFile: undefined, stateDir: flags.stateDir ?? root }, secret === undefined ? {} : { OUTPOST_DEVICE_SECRET: secret });
  const result = planInstall({
    root,
    nodePath: process.execPath,
    entryPath: entryPath(),
    deviceId,
    settings,
    ...(secret === undefined ? {} : { secret }),
    ...(flags.trust === undefined ? {} : { trust: readFileSync(flags.trust, 'utf8') }),
    ...(flags.stateDir === undefined ? {} : { stateDir: resolve(flags.stateDir) }),
  });
  const config = result.files.find((f) => f.kind === 'config');
  if (config) parseAgentConfigFile(config.content, config.path);
  return result;
}

function report(written: readonly WrittenFile[], plan: InstallPlan, enabled: boolean): string {
  const lines = written.map(({ file, status }) => `${status.padEnd(9)} ${file.path} (${file.kind}, mode 0${file.mode.toString(8)})`);
  lines.push(`state dir ${plan.stateDir}`);
  if (!enabled) {
    lines.push('', 'next:', '  systemctl daemon-reload', `  systemctl enable --now ${UNIT_NAME}`, `  journalctl -u ${UNIT_NAME} -f`);
  }
  return `${lines.join('\n')}\n`;
}

async function enable(): Promise<void> {
  const run = promisify(execFile);
  await run('systemctl', ['daemon-reload']);
  await run('systemctl', ['enable', '--now', UNIT_NAME]);
}

export function registerInstallCommand(agent: Command): void {
  const command = agent
    .command('install')
    .description(`write a systemd unit (${UNIT_NAME}), /etc/outpost/agent.yaml with the options given, and the device secret (mode 0600)`);
  for (const option of agentOptions()) {
    if (option.long === '--secret-file') command.addOption(new Option('--secret-file <file>', 'file holding the device secret, copied to <root>/etc/outpost/device.secret'));
    else if (option.long === '--trust') command.addOption(new Option('--trust <file>', "the controller's signing key(s), copied to <root>/etc/outpost/signing-keys"));
    else if (option.long === '--state-dir') command.addOption(new Option('--state-dir <dir>', 'directory for the agent state (default <root>/var/lib/outpost)'));
    else command.addOption(option);
  }
  command
    .addOption(new Option('--device-id <id>', 'same as --device').hideHelp())
    .option('--secret-stdin', 'read the device secret from stdin')
    .option('--root <dir>', 'install under this directory; the unit and config then name the files there (tests, staging)', '/')
    .option('--force', 'replace a device secret file that holds another secret')
    .option('--enable', 'run systemctl daemon-reload and enable --now afterwards (root / only)')
    .action(async (flags: InstallFlags) => {
      try {
        if (flags.enable && resolve(flags.root) !== '/') throw new OutpostError('CONFIG_INVALID', '--enable needs the default --root /: systemd reads units from /etc/systemd/system');
        const installPlan = await plan(flags, command);
        const { writeInstall } = await import('./write-install.js');
        const written = await writeInstall(installPlan, { force: flags.force === true });
        if (flags.enable) await enable();
        process.stdout.write(report(written, installPlan, flags.enable === true));
      } catch (err) {
        process.stderr.write(`outpost agent install: ${errorMessage(err)}\n`);
        process.exitCode = 2;
      }
    });
}
