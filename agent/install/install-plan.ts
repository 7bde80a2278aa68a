import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';

/**
 * What `outpost agent install` writes (DD-043), planned purely: the unit, the
 * config file, the secret and the signing keys, each with its content and
 * mode. Every path — those written and those the unit and config file name —
 * lies under `root`, so a unit installed with `--root DIR` runs as it is,
 * against files inside DIR (tests, side-by-side installs); with the default
 * root `/` they are the system paths.
 */

/** Also in install-command.ts, which must not import this module at start. */
export const UNIT_NAME = 'outpost-agent.service';

export interface InstallInput {
  /** Absolute; `/` for a real install. */
  readonly root: string;
  /** Absolute path of the node binary the unit runs. */
  readonly nodePath: string;
  /** Absolute path of the program node runs: the `outpost` CLI (dist/cli/main.js) or the bundled outpost-agent.js. */
  readonly entryPath: string;
  readonly deviceId: string;
  /** Config-file settings other than secret-file, trust and state-dir (the plan sets those). */
  readonly settings: Readonly<Record<string, string | boolean | readonly string[]>>;
  /** The device secret; absent when a client certificate authenticates the device. */
  readonly secret?: string;
  /** Content of the signing-keys file (--trust), copied beside the config. */
  readonly trust?: string;
  /** State directory; default <root>/var/lib/outpost. */
  readonly stateDir?: string;
}

export interface PlannedFile {
  readonly kind: 'unit' | 'config' | 'secret' | 'trust';
  readonly path: string;
  readonly content: string;
  readonly mode: number;
}

export interface InstallPlan {
  readonly files: readonly PlannedFile[];
  readonly unitPath: string;
  readonly configPath: string;
  readonly stateDir: string;
  /** The unit's command line, as arguments. */
  readonly execStart: readonly string[];
}

/** A systemd command-line word: quoted when it needs it; `%` doubled everywhere (systemd specifiers). */
export function systemdWord(arg: string): string {
  const escaped = arg.replace(/%/g, '%%');
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function renderUnit(input: InstallInput, execStart: readonly string[], stateDir: string): string {
  const systemRoot = input.root === '/';
  return [
    '# Written by `outpost agent install`; run it again to change settings (edits here are overwritten).',
    '# Settings: the --config file below. docs/operations.md, "Installing the agent".',
    '[Unit]',
    `Description=Outpost device agent (${input.deviceId})`,
    'After=network-online.target docker.service',
    'Wants=network-online.target',
    // Never give up restarting: a device must not go silent for good.
    'StartLimitIntervalSec=0',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${execStart.map(systemdWord).join(' ')}`,
    'Restart=always',
    'RestartSec=5',
    'TimeoutStopSec=20',
    'Environment=NODE_ENV=production',
    ...(systemRoot && stateDir === '/var/lib/outpost' ? ['StateDirectory=outpost', 'StateDirectoryMode=0700'] : []),
    '# Runs as root: the Docker socket is root-equivalent anyway. The rest is fenced off; /run (the socket) stays reachable.',
    'NoNewPrivileges=yes',
    'ProtectSystem=full',
    'ProtectHome=read-only',
    'PrivateTmp=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'RestrictSUIDSGID=yes',
    'RestrictRealtime=yes',
    'LockPersonality=yes',
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK',
    'UMask=0077',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** Numbers as numbers (`keepalive: 30`), the way a person writes the file. */
const natural = (value: unknown): unknown => (typeof value === 'string' && /^(0|[1-9]\d{0,14})$/.test(value) ? Number(value) : value);

function renderConfig(settings: Record<string, unknown>): string {
  return [
    '# Outpost agent settings, written by `outpost agent install`. Every `outpost agent` option can go here,',
    '# named without its dashes; flags and environment variables win over this file.',
    '# docs/operations.md, "Installing the agent", lists every key.',
    stringifyYaml(Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, natural(v)]))),
  ].join('\n');
}

export function planInstall(input: InstallInput): InstallPlan {
  const at = (path: string): string => join(input.root, path);
  const unitPath = at(`/etc/systemd/system/${UNIT_NAME}`);
  const configPath = at('/etc/outpost/agent.yaml');
  const secretPath = at('/etc/outpost/device.secret');
  const trustPath = at('/etc/outpost/signing-keys');
  const stateDir = input.stateDir ?? at('/var/lib/outpost');
  const settings: Record<string, unknown> = {
    device: input.deviceId,
    ...input.settings,
    'state-dir': stateDir,
    ...(input.secret === undefined ? {} : { 'secret-file': secretPath }),
    ...(input.trust === undefined ? {} : { trust: trustPath }),
  };
  const execStart = [input.nodePath, input.entryPath, 'agent', '--config', configPath];
  const files: PlannedFile[] = [
    { kind: 'unit', path: unitPath, content: renderUnit(input, execStart, stateDir), mode: 0o644 },
    { kind: 'config', path: configPath, content: renderConfig(settings), mode: 0o644 },
    ...(input.secret === undefined ? [] : [{ kind: 'secret' as const, path: secretPath, content: `${input.secret}\n`, mode: 0o600 }]),
    ...(input.trust === undefined ? [] : [{ kind: 'trust' as const, path: trustPath, content: input.trust, mode: 0o644 }]),
  ];
  return { files, unitPath, configPath, stateDir, execStart };
}
