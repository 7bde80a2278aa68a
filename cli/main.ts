#!/usr/bin/env node
import { existsSync, statSync } from 'node:fs';
import { Command } from 'commander';
import { AGENT_VERSION } from '../shared/version.js';

type Register = (program: Command) => void;

/**
 * The agent as one file when `npm run build` made it
 * (scripts/bundle-agent.ts: ~2 MB less memory on the device), else its
 * modules. A bundle older than the compiled agent (tsc run alone since) is
 * stale and not used.
 */
async function loadAgentCommand(): Promise<typeof import('../agent/main.js')> {
  const bundle = new URL('../agent/main.bundle.js', import.meta.url);
  const modules = new URL('../agent/main.js', import.meta.url);
  const fresh = existsSync(bundle) && statSync(bundle).mtimeMs >= statSync(modules).mtimeMs;
  return fresh ? ((await import(bundle.href)) as typeof import('../agent/main.js')) : import('../agent/main.js');
}

const PARTS: Record<string, () => Promise<Register[]>> = {
  broker: async () => [(await import('../broker/main.js')).registerBrokerCommands],
  agent: async () => [(await loadAgentCommand()).registerAgentCommand],
  up: async () => [(await import('./up.js')).registerUpCommand],
  controller: async () => [(await import('../controller/main.js')).registerControllerCommand],
  operator: async () => [
    (await import('./commands/device.js')).registerDeviceCommands,
    (await import('./commands/release.js')).registerReleaseCommands,
    (await import('./commands/deployment.js')).registerDeploymentCommands,
    (await import('./commands/status.js')).registerStatusCommand,
    (await import('./commands/signing-key.js')).registerSigningKeyCommands,
    (await import('./commands/command.js')).registerCommandCommands,
    (await import('./commands/rollout.js')).registerRolloutCommands,
    (await import('./commands/token.js')).registerTokenCommands,
    (await import('./commands/registry.js')).registerRegistryCommands,
    (await import('./commands/audit.js')).registerAuditCommand,
    (await import('./commands/sim.js')).registerSimCommand,
    (await import('./commands/context.js')).registerContextCommands,
  ],
  // Completion describes the whole CLI, so it loads every part (help does too).
  completion: async () => [
    ...(await Promise.all(['broker', 'agent', 'up', 'controller', 'operator'].map((part) => (PARTS[part] as () => Promise<Register[]>)()))).flat(),
    (await import('./commands/completion.js')).registerCompletionCommand,
  ],
};

async function main(): Promise<void> {
  const program = new Command()
    .name('outpost')
    .description('MQTT-native orchestration of containers on edge devices')
    .version(AGENT_VERSION)
    .showHelpAfterError();
  const first = process.argv.slice(2).find((a) => !a.startsWith('-'));
  const parts = first && first in PARTS && first !== 'operator' ? [first] : first && first !== 'help' ? ['operator'] : ['completion'];
  // Before the agent's modules load: the compilers' memory goes at import time.
  if (parts.length === 1 && parts[0] === 'agent') (await import('../agent/lean-v8.js')).applyLeanV8Flags();
  for (const part of parts) for (const register of await (PARTS[part] as () => Promise<Register[]>)()) register(program);
  await program.parseAsync(process.argv);
}

main().catch((err: unknown) => {
  process.stderr.write(`outpost: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
