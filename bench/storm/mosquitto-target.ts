import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynsecClient } from '../../controller/broker-admin/dynsec-client.js';
import { bootstrapDynsec } from '../../controller/broker-admin/dynsec-bootstrap.js';
import { commandsFor, executeDynsecSteps } from '../../controller/broker-admin/dynsec-steps.js';
import { newSecret } from '../../shared/device-credentials.js';
import { silentLogger } from '../../shared/logger.js';
import { Topics } from '../../shared/topics.js';
import { freePort } from '../lib/free-port.js';
import { applyDynsecCommands, parseDynsecFile } from './dynsec-file.js';
import { rssBytes, startChild, waitUntil, type Child } from './processes.js';
import type { Target } from './target.js';

/** Where Debian (and a few other layouts) put the plugin. */
const PLUGIN_PATHS = [
  '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so',
  '/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so',
  '/usr/lib/mosquitto_dynamic_security.so',
  '/usr/local/lib/mosquitto_dynamic_security.so',
];
/** Devices created per call of the broker-admin code (it sends them in messages of DYNSEC_BATCH commands). */
const ENROL_CHUNK = 200;

export interface MosquittoTargetOptions {
  /** Outpost-on-Mosquitto: the dynamic-security plugin, devices created by Outpost's broker-admin code. */
  dynsec: boolean;
  /** on-change: the persistence Outpost ships (compose/mosquitto/mosquitto.conf); periodic: Mosquitto's default autosave (1800 s). */
  autosave: 'on-change' | 'periodic';
  /**
   * commands: each device created over the plugin's API by executeDynsecSteps (what enrolment runs);
   * file: the same commands (commandsFor) written into the plugin's file while Mosquitto is stopped
   * (dynsec-file.ts: Mosquitto 2.0 saves its whole file after every command).
   */
  dynsecSetup: 'commands' | 'file';
}

/** The settings of compose/mosquitto/mosquitto.conf that matter here, on a loopback listener. */
function config(port: number, dir: string, o: MosquittoTargetOptions, dynsecFile: string): string {
  const plugin = PLUGIN_PATHS.find((p) => existsSync(p));
  if (o.dynsec && !plugin) throw new Error(`mosquitto_dynamic_security.so not found in ${PLUGIN_PATHS.join(', ')} (apt-get install mosquitto)`);
  return [
    // Mosquitto 2 drops root privileges to user "mosquitto" and then cannot write into a root-owned temp dir.
    ...(process.getuid?.() === 0 ? ['user root'] : []),
    'per_listener_settings false',
    // Before any listener-scoped setting (max_qos): one of those ahead of every listener line makes
    // Mosquitto open its default listener on 0.0.0.0:1883 as well.
    `listener ${port} 127.0.0.1`,
    `allow_anonymous ${!o.dynsec}`,
    ...(o.dynsec ? [`plugin ${plugin ?? ''}`, `plugin_opt_config_file ${dynsecFile}`] : []),
    'persistence true',
    `persistence_location ${dir}/`,
    ...(o.autosave === 'on-change' ? ['autosave_interval 1', 'autosave_on_changes true'] : []),
    'max_inflight_messages 1000',
    'max_queued_messages 100000',
    'max_qos 1',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    // "… running" tells that the listener is bound; no connection log per client.
    'log_type information',
    'connection_messages false',
    '',
  ].join('\n');
}

/**
 * Mosquitto 2.0 on a random loopback port in a temp dir. With dynsec, the
 * plugin's file is made by `mosquitto_ctrl dynsec init`, the service identity
 * and default-deny by bootstrapDynsec, and each device by the same steps
 * enrolment runs (executeDynsecSteps: a client bound to its id, a role with
 * exact-topic ACLs). Without, anonymous access, no ACLs: the same clients
 * and documents on plain Mosquitto.
 */
export async function startMosquittoTarget(o: MosquittoTargetOptions): Promise<Target> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-storm-mosquitto-'));
  const dynsecFile = join(dir, 'dynamic-security.json');
  const admin = { username: 'outpost-admin', password: randomBytes(16).toString('hex') };
  const service = { username: 'svc:outpost', password: randomBytes(16).toString('hex') };
  let broker: Child | undefined;
  let adminClient: DynsecClient | undefined;
  const cleanup = async (): Promise<void> => {
    await adminClient?.close();
    await broker?.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    if (o.dynsec) {
      const init = startChild('mosquitto_ctrl', ['dynsec', 'init', dynsecFile, admin.username, admin.password]);
      const code = await new Promise<number | null>((resolve) => init.proc.once('exit', (c) => resolve(c)));
      if (code !== 0) throw new Error(`mosquitto_ctrl dynsec init failed: ${init.output()}`);
    }
    const configFile = join(dir, 'mosquitto.conf');
    let port = 0;
    const startBroker = async (): Promise<Child> => {
      const child = startChild('mosquitto', ['-c', configFile]);
      broker = child;
      const exited = (): boolean => child.proc.exitCode !== null || child.proc.signalCode !== null;
      // Its log says "running" once every listener is bound (and an exit with its reason if one is not).
      await waitUntil('mosquitto', () => exited() || / running$/m.test(child.output()), 20_000);
      if (exited()) throw new Error(`mosquitto exited: ${child.output()}`);
      return child;
    };
    // Another process may take the free port before Mosquitto binds it (a shared machine): a new one then.
    const firstStart = async (attempt = 1): Promise<Child> => {
      port = await freePort();
      await writeFile(configFile, config(port, dir, o, dynsecFile));
      return startBroker().catch((err: unknown) => (attempt < 5 && /Address already in use/.test(String(err)) ? firstStart(attempt + 1) : Promise.reject(err)));
    };
    let b = await firstStart();
    const url = (): string => `mqtt://127.0.0.1:${port}`;
    const topics = new Topics();
    if (o.dynsec) {
      adminClient = new DynsecClient({ brokerUrl: url(), ...admin, clientId: 'svc:storm-admin', timeoutMs: 60_000 }, silentLogger());
      await adminClient.start();
      await bootstrapDynsec(adminClient, topics, service);
    }
    const viaCommands = async (a: DynsecClient, ids: readonly string[], secrets: ReadonlyMap<string, string>): Promise<void> => {
      for (let i = 0; i < ids.length; i += ENROL_CHUNK) {
        const steps = ids.slice(i, i + ENROL_CHUNK).map((deviceId) => ({ kind: 'create' as const, deviceId, secret: secrets.get(deviceId) ?? null }));
        const failed = (await executeDynsecSteps(a, topics, steps)).find((step) => step.error);
        if (failed?.error) throw failed.error;
      }
    };
    const viaFile = async (ids: readonly string[], secrets: ReadonlyMap<string, string>): Promise<void> => {
      await adminClient?.close();
      adminClient = undefined;
      await b.stop();
      const commands = ids.flatMap((deviceId) => commandsFor({ kind: 'create', deviceId, secret: secrets.get(deviceId) ?? null }, topics).commands);
      await writeFile(dynsecFile, JSON.stringify(applyDynsecCommands(parseDynsecFile(await readFile(dynsecFile, 'utf8')), commands)));
      // A new port: the old one can linger in the kernel after Mosquitto exits.
      b = await firstStart();
    };
    return {
      kind: o.dynsec ? 'outpost-mosquitto' : 'mosquitto',
      label: o.dynsec ? 'outpost-mosquitto' : 'mosquitto',
      get url() {
        return url();
      },
      get pid() {
        return b.pid;
      },
      service,
      async enroll(ids) {
        const secrets = new Map(ids.map((id) => [id, newSecret()]));
        if (adminClient) await (o.dynsecSetup === 'file' ? viaFile(ids, secrets) : viaCommands(adminClient, ids, secrets));
        return secrets;
      },
      memory: async () => ({ rssBytes: rssBytes(b.pid), heapUsedBytes: null }),
      // Mosquitto acknowledges a QoS 1 PUBLISH after it queued the message for every matching session.
      waitQueued: async () => undefined,
      redis: async () => null,
      output: () => b.output(),
      stop: cleanup,
    };
  } catch (err) {
    if (broker) process.stderr.write(`mosquitto output:\n${broker.output()}\n`);
    await cleanup();
    throw err;
  }
}
