import type { Redis } from 'ioredis';
import type { CommandService } from '../commands/command-service.js';
import type { CommandView, SendCommandInput } from '../commands/command-record.js';
import { readDesiredRecord } from '../desired-state/desired-record.js';
import { ControllerError } from '../errors.js';
import type { DeviceStore } from '../registry/device-store.js';
import type { Keys } from '../registry/keys.js';

export interface CommandOperationsDeps {
  redis: Redis;
  keys: Keys;
  devices: DeviceStore;
  commands: CommandService;
}

/** Commands to one device (restart, logs, ping, resync), checked against what the device is told to run. */
export class CommandOperations {
  constructor(private readonly deps: CommandOperationsDeps) {}

  /** Sends a command; `answered` is false when it is still queued (device offline or slow). */
  async send(id: string, input: SendCommandInput): Promise<{ view: CommandView; answered: boolean }> {
    await this.deps.devices.require(id);
    const workload = input.workload;
    if (workload !== undefined) {
      // Catch a mistyped workload here rather than as a failed result from the device.
      const doc = (await readDesiredRecord(this.deps.redis, this.deps.keys, id))?.doc;
      if (doc && !(workload in doc.workloads)) {
        const names = Object.keys(doc.workloads).sort().join(', ') || 'none';
        throw new ControllerError('REQUEST_INVALID', `workload: ${id} has no workload ${workload} (its workloads: ${names}; names are <app>-<workload>)`);
      }
    }
    return this.deps.commands.send(id, input);
  }

  async get(id: string, commandId: string): Promise<CommandView> {
    await this.deps.devices.require(id);
    const view = await this.deps.commands.get(id, commandId);
    if (!view) throw new ControllerError('COMMAND_NOT_FOUND', `device ${id} has no command ${commandId} (records are kept for a day after they expire)`);
    return view;
  }
}

