import { parseArgs } from 'node:util';
import { z } from 'zod';
import { PERSISTENCE_KINDS } from '../../broker/persistence/kinds.js';
import { CLIENT_KINDS } from './client-fleet.js';
import { TARGET_KINDS } from './target.js';

const list = <T extends readonly [string, ...string[]]>(values: T, fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((s) => [...new Set(s.split(',').map((k) => k.trim()))])
    .pipe(z.array(z.enum(values)).min(1));

export const StormOptions = z.strictObject({
  devices: z.coerce.number().int().min(1).max(100_000).default(2000),
  targets: list(TARGET_KINDS, TARGET_KINDS.join(',')),
  clients: list(CLIENT_KINDS, CLIENT_KINDS.join(',')),
  /** Outpost target only: each persistence is its own combination (legacy only when asked, for comparison). */
  persistence: list(PERSISTENCE_KINDS, 'outpost'),
  /** Outpost target only: the broker's emitter (DD-028). */
  emitter: z.enum(['redis', 'local']).default('redis'),
  /** Outpost target only: broker processes (`outpost broker --workers`, DD-035); above 1 needs the redis emitter. */
  brokerWorkers: z.coerce.number().int().min(1).max(16).default(1),
  /** Both Mosquitto targets: on-change is what Outpost ships; periodic is Mosquitto's default (1800 s). */
  mosquittoAutosave: z.enum(['on-change', 'periodic']).default('on-change'),
  /** Outpost-on-Mosquitto: devices created as dynsec commands (as enrolment does), or those commands written into its file (large fleets; see dynsec-file.ts). */
  dynsecSetup: z.enum(['commands', 'file']).default('commands'),
  /** Worker processes of the simulated agents. */
  agentWorkers: z.coerce.number().int().min(1).max(64).default(2),
  connackTimeoutMs: z.coerce.number().int().min(1000).default(15_000),
  deadlineS: z.coerce.number().int().min(10).default(300),
  listenBacklog: z.coerce.number().int().min(1).default(4096),
  /** Writes a V8 CPU profile of each Outpost broker run there (node --cpu-prof). */
  profileDir: z.string().min(1).optional(),
  /** The Outpost broker seals its stored packets with this key file (DD-047). */
  storeKeyFile: z.string().min(1).optional(),
  /** Each raw device has a presence will (QoS 1, retained), as agents do. */
  will: z.boolean().default(true),
});
export type StormOptions = z.infer<typeof StormOptions>;

export const USAGE =
  'node dist/bench/broker-storm.js [--devices 2000] [--targets outpost,outpost-mosquitto,mosquitto] [--clients raw,agent] ' +
  '[--persistence outpost|legacy,outpost] [--emitter redis|local] [--broker-workers 1] [--mosquitto-autosave on-change|periodic] [--dynsec-setup commands|file] [--agent-workers 2] ' +
  '[--connack-timeout-ms 15000] [--deadline-s 300] [--listen-backlog 4096] [--no-will] [--profile-dir DIR] [--store-key-file FILE]';

export function parseStormOptions(argv: readonly string[] = process.argv.slice(2)): StormOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      devices: { type: 'string' },
      targets: { type: 'string' },
      clients: { type: 'string' },
      persistence: { type: 'string' },
      emitter: { type: 'string' },
      'broker-workers': { type: 'string' },
      'mosquitto-autosave': { type: 'string' },
      'dynsec-setup': { type: 'string' },
      'agent-workers': { type: 'string' },
      'connack-timeout-ms': { type: 'string' },
      'deadline-s': { type: 'string' },
      'listen-backlog': { type: 'string' },
      'profile-dir': { type: 'string' },
      'no-will': { type: 'boolean' },
      'store-key-file': { type: 'string' },
    },
  });
  const parsed = StormOptions.safeParse({
    devices: values.devices,
    targets: values.targets,
    clients: values.clients,
    persistence: values.persistence,
    emitter: values.emitter,
    brokerWorkers: values['broker-workers'],
    mosquittoAutosave: values['mosquitto-autosave'],
    dynsecSetup: values['dynsec-setup'],
    agentWorkers: values['agent-workers'],
    connackTimeoutMs: values['connack-timeout-ms'],
    deadlineS: values['deadline-s'],
    listenBacklog: values['listen-backlog'],
    profileDir: values['profile-dir'],
    will: values['no-will'] !== true,
    storeKeyFile: values['store-key-file'],
  });
  if (!parsed.success) throw new Error(`invalid options: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}\nusage: ${USAGE}`);
  return parsed.data;
}
