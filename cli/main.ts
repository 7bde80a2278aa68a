#!/usr/bin/env node
import { Command } from 'commander';
import { registerBrokerCommands } from '../broker/main.js';
import { registerAgentCommand } from '../agent/main.js';
import { AGENT_VERSION } from '../shared/version.js';
import { registerUpCommand } from './up.js';
import { registerControllerCommand } from '../controller/main.js';
import { registerCommandCommands } from './commands/command.js';
import { registerDeploymentCommands } from './commands/deployment.js';
import { registerDeviceCommands } from './commands/device.js';
import { registerReleaseCommands } from './commands/release.js';
import { registerStatusCommand } from './commands/status.js';

/**
 * `outpost` entry point. Each part registers its own sub-commands; this file
 * only assembles them, so `main.ts` of each part stays the one place that
 * reads the environment and builds real adapters.
 */
const program = new Command()
  .name('outpost')
  .description('MQTT-native orchestration of containers on edge devices')
  .version(AGENT_VERSION)
  .showHelpAfterError();

registerBrokerCommands(program);
registerAgentCommand(program);
registerUpCommand(program);
registerControllerCommand(program);
registerDeviceCommands(program);
registerReleaseCommands(program);
registerDeploymentCommands(program);
registerStatusCommand(program);
registerCommandCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`outpost: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
