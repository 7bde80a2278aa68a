import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { agentFileSchema, parseAgentConfigFile, suggestKey } from '../../agent/config-file.js';
import { agentConfigFromFlags, registerAgentCommand } from '../../agent/main.js';
import type { AgentFlags } from '../../agent/options.js';
import { errorMessage } from '../../shared/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'outpost-config-file-'));
const trustFile = join(dir, 'signing-keys');
writeFileSync(trustFile, '-----BEGIN PUBLIC KEY-----\nnot checked here\n-----END PUBLIC KEY-----\n');
const secretFile = join(dir, 'device.secret');
writeFileSync(secretFile, 'from-the-file\n', { mode: 0o600 });
const FILE = '/etc/outpost/agent.yaml';
const env = { OUTPOST_DEVICE_SECRET: 's3cret-s3cret' };

/** One valid value per agent option, different from its default. An option missing here fails the test below. */
const SAMPLES: Record<string, string | boolean | string[]> = {
  device: 'kiosk-b',
  broker: 'mqtts://broker.example.com:8883',
  'state-dir': '/var/lib/outpost-other',
  'secret-file': secretFile,
  ca: '/etc/outpost/ca.pem',
  cert: '/etc/outpost/device.pem',
  key: '/etc/outpost/device.key',
  'insecure-plaintext': true,
  trust: trustFile,
  'accept-unsigned': true,
  'topic-prefix': 'fleet/v1',
  'docker-socket': '/run/user/docker.sock',
  'allow-host-path': ['/srv/data', '/media'],
  'allow-capability': ['NET_ADMIN'],
  'allow-volume': ['shared-cache'],
  'log-level': 'debug',
  'log-format': 'pretty',
  keepalive: '30',
  'settle-ms': '50',
  'resync-interval': '0',
  'clock-refresh': '600',
  'reconnect-base-ms': '250',
  'reconnect-cap-ms': '5000',
  'watchdog-seconds': '30',
  'retry-base-ms': '100',
  'retry-cap-ms': '1000',
  'locks-dir': '/run/outpost-locks',
  'lock-poll-ms': '500',
  'telemetry-interval': '60',
  'telemetry-deltas': 'off',
  profile: 'cellular',
  'report-delay-ms': '0',
  'event-detail': 'steps',
  'report-format': 'full',
};
const BASE: Record<string, string | boolean> = { device: 'kiosk-a', broker: 'mqtts://broker.example.com:8883', 'state-dir': '/var/lib/outpost', 'accept-unsigned': true };

/** The `agent` command as the CLI registers it, its action replaced by one that hands back the flags. */
function agentCommand(): Command {
  const program = new Command().exitOverride();
  registerAgentCommand(program);
  const agent = program.commands.find((c) => c.name() === 'agent');
  if (!agent) throw new Error('no agent command');
  return agent;
}

function cliFlags(settings: Record<string, string | boolean | string[]>): AgentFlags {
  const args = Object.entries(settings).flatMap(([key, value]) =>
    value === true ? [`--${key}`] : Array.isArray(value) ? value.flatMap((v) => [`--${key}`, v]) : [`--${key}`, String(value)],
  );
  let flags: AgentFlags | undefined;
  const program = new Command().exitOverride();
  registerAgentCommand(program);
  program.commands.find((c) => c.name() === 'agent')?.action((opts: AgentFlags) => {
    flags = opts;
  });
  program.parse(['agent', ...args], { from: 'user' });
  if (!flags) throw new Error('agent action did not run');
  return flags;
}

/** As a person writes YAML: numbers unquoted. */
const yamlOf = (settings: Record<string, unknown>): string =>
  stringify(Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v])));

const outcome = (fn: () => unknown): unknown => {
  try {
    return fn();
  } catch (err) {
    return { error: errorMessage(err) };
  }
};

describe('agent config file (DD-043)', () => {
  const options = agentCommand()
    .options.map((o) => (o.long ?? '').replace(/^--/, ''))
    .filter((key) => !['secret', 'config'].includes(key));

  it('has a key for every agent option, and no other', () => {
    expect(Object.keys(agentFileSchema().shape).sort()).toEqual([...options].sort());
    expect(Object.keys(SAMPLES).sort()).toEqual([...options].sort());
  });

  it.each(options)('%s in the file gives the agent what the flag gives it', (key) => {
    const sample = SAMPLES[key];
    if (sample === undefined) throw new Error(`no sample value for --${key}: add one to SAMPLES`);
    const { [key]: _unset, ...withoutIt } = BASE;
    const baseline = outcome(() => agentConfigFromFlags(cliFlags(withoutIt), env));
    const fromFlag = outcome(() => agentConfigFromFlags(cliFlags({ ...BASE, [key]: sample }), env));
    const fromFile = outcome(() => agentConfigFromFlags(cliFlags({}), env, [], parseAgentConfigFile(yamlOf({ ...BASE, [key]: sample }), FILE)));
    expect(fromFile).toEqual(fromFlag);
    expect(fromFlag).not.toEqual(baseline);
  });

  it('ranks flags over environment over the file', () => {
    const file = parseAgentConfigFile(yamlOf({ ...BASE, 'log-level': 'warn', keepalive: 30, 'event-detail': 'outcome' }), FILE);
    const config = agentConfigFromFlags(cliFlags({ keepalive: '45' }), { ...env, OUTPOST_LOG_LEVEL: 'error' }, [], file);
    expect(config).toMatchObject({ keepaliveSeconds: 45, logLevel: 'error', eventDetail: 'outcome', deviceId: 'kiosk-a' });
    expect(agentConfigFromFlags(cliFlags({ 'allow-volume': ['a'] }), env, [], parseAgentConfigFile(yamlOf({ ...BASE, 'allow-volume': ['b'] }), FILE)).allowedVolumes).toEqual(['a']);
  });

  it('takes relative paths from the file\'s directory', () => {
    expect(parseAgentConfigFile('state-dir: state\nsecret-file: ./device.secret\n', '/etc/outpost/agent.yaml')).toEqual({
      stateDir: '/etc/outpost/state',
      secretFile: '/etc/outpost/device.secret',
    });
  });

  it('names the file, the key and the problem, every problem at once', () => {
    const message = outcome(() => parseAgentConfigFile('keepalve: 30\nstate_dir: /x\naccept-unsigned: maybe\nallow-volume: {a: 1}\n', FILE));
    expect(message).toEqual({
      error:
        'agent config file /etc/outpost/agent.yaml: unknown key "keepalve" (did you mean "keepalive"?); unknown key "state_dir" (did you mean "state-dir"?); ' +
        'key "accept-unsigned": expected true or false; key "allow-volume": expected a value or a list of values',
    });
  });

  it('refuses a secret in the file, YAML that is not a mapping, and broken YAML', () => {
    expect(outcome(() => parseAgentConfigFile('secret: hunter2\n', FILE))).toEqual({
      error: 'agent config file /etc/outpost/agent.yaml: "secret" is not accepted: a secret goes in its own file (mode 0600), named by secret-file',
    });
    expect(outcome(() => parseAgentConfigFile('- device\n', FILE))).toMatchObject({ error: expect.stringMatching(/agent\.yaml: expected a mapping/) });
    expect(outcome(() => parseAgentConfigFile('device: [\n', FILE))).toMatchObject({ error: expect.stringMatching(/agent\.yaml: not valid YAML/) });
    expect(parseAgentConfigFile('# nothing yet\n', FILE)).toEqual({});
  });

  it('suggests only close keys', () => {
    expect(suggestKey('brokr', options)).toBe('broker');
    expect(suggestKey('stateDir', options)).toBe('state-dir');
    expect(suggestKey('completely-else', options)).toBeUndefined();
  });
});
