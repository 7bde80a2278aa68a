import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DynsecClient } from '../../controller/broker-admin/dynsec-client.js';
import { bootstrapDynsec } from '../../controller/broker-admin/dynsec-bootstrap.js';
import { executeDynsecSteps } from '../../controller/broker-admin/dynsec-steps.js';
import { silentLogger } from '../../shared/logger.js';
import { Topics } from '../../shared/topics.js';
import { startMosquitto, type MosquittoServer } from './mosquitto.js';
import { spawnProcess } from './process.js';
import { makeTempDir } from './temp-dir.js';

export const DYNSEC_ADMIN_USERNAME = 'outpost-admin';
export const DYNSEC_SERVICE_USERNAME = 'svc:outpost';

/** Where Debian (and a few other layouts) put the plugin. */
const PLUGIN_PATHS = [
  '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so',
  '/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so',
  '/usr/lib/mosquitto_dynamic_security.so',
  '/usr/local/lib/mosquitto_dynamic_security.so',
];

export function dynsecPluginPath(): string {
  const found = PLUGIN_PATHS.find((p) => existsSync(p));
  if (!found) throw new Error(`mosquitto_dynamic_security.so not found in ${PLUGIN_PATHS.join(', ')} (apt-get install mosquitto)`);
  return found;
}

export interface DynsecFixtureOptions {
  /** Create the service identity with its role now (default true); a controller in mosquitto-dynsec mode also does it itself. */
  readonly withService?: boolean;
  readonly extraConfig?: readonly string[];
}

export interface MosquittoDynsecServer {
  readonly server: MosquittoServer;
  readonly url: string;
  /** The dynamic-security admin client (`mosquitto_ctrl dynsec init`). */
  readonly admin: { username: string; password: string };
  readonly service: { username: string; password: string };
  /** The JSON file the plugin keeps its clients and roles in (saved on every change). */
  readonly dynsecFile: string;
  /** An admin connection for the test itself (created on first use). */
  adminClient(): Promise<DynsecClient>;
  /** Creates a device client with its role, as the controller would (same code), and returns its secret. */
  enroll(deviceId: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Mosquitto 2.0 with the dynamic-security plugin on a random loopback port,
 * anonymous access off, persistence on (autosave_interval 1 +
 * autosave_on_changes), the dynsec file created with `mosquitto_ctrl dynsec
 * init`. Everything lives in a temp dir removed by stop().
 */
export async function startMosquittoDynsecServer(opts: DynsecFixtureOptions = {}): Promise<MosquittoDynsecServer> {
  const dir = await makeTempDir('mosquitto-dynsec');
  const dynsecFile = join(dir.path, 'dynamic-security.json');
  const admin = { username: DYNSEC_ADMIN_USERNAME, password: randomBytes(16).toString('hex') };
  const service = { username: DYNSEC_SERVICE_USERNAME, password: randomBytes(16).toString('hex') };
  let server: MosquittoServer;
  try {
    const init = spawnProcess('mosquitto_ctrl', { name: 'mosquitto_ctrl dynsec init', args: ['dynsec', 'init', dynsecFile, admin.username, admin.password] });
    const exit = await init.waitForExit(10_000);
    if (exit.code !== 0) throw new Error(`mosquitto_ctrl dynsec init failed: ${init.output()}`);
    server = await startMosquitto({
      dir: dir.path,
      allowAnonymous: false,
      extraConfig: [`plugin ${dynsecPluginPath()}`, `plugin_opt_config_file ${dynsecFile}`, ...(opts.extraConfig ?? [])],
    });
  } catch (err) {
    await dir.remove();
    throw err;
  }
  const topics = new Topics();
  let client: DynsecClient | undefined;
  const adminClient = async (): Promise<DynsecClient> => {
    if (client) return client;
    const c = new DynsecClient({ brokerUrl: server.url, ...admin, clientId: `svc:test-admin-${randomBytes(3).toString('hex')}`, timeoutMs: 5000 }, silentLogger());
    await c.start();
    client = c;
    return c;
  };
  if (opts.withService ?? true) await bootstrapDynsec(await adminClient(), topics, service);
  return {
    server,
    url: server.url,
    admin,
    service,
    dynsecFile,
    adminClient,
    async enroll(deviceId) {
      const secret = randomBytes(24).toString('base64url');
      const [outcome] = await executeDynsecSteps(await adminClient(), topics, [{ kind: 'create', deviceId, secret }]);
      if (outcome?.error) throw outcome.error;
      return secret;
    },
    async stop() {
      await client?.close();
      client = undefined;
      await server.stop();
      await dir.remove();
    },
  };
}
