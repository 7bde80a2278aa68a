import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { commandsFor } from '../../controller/broker-admin/dynsec-steps.js';
import { Topics } from '../../shared/topics.js';
import { applyDynsecCommands, parseDynsecFile, type DynsecFile } from '../../bench/storm/dynsec-file.js';
import { dynsecPluginPath, startMosquittoDynsecServer, type MosquittoDynsecServer } from '../helpers/mosquitto-dynsec.js';
import { startMosquitto, type MosquittoServer } from '../helpers/mosquitto.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

async function grantedQos(client: MqttClient, filter: string): Promise<number | undefined> {
  try {
    return (await client.subscribeAsync(filter, { qos: 1 }))[0]?.qos;
  } catch (err) {
    return (err as { packet?: { granted?: number[] } }).packet?.granted?.[0];
  }
}

/**
 * A client or role of the file, its id swapped for a placeholder, its password fields dropped and its
 * ACLs in one order (the plugin keeps one list per ACL type and saves them type by type).
 */
function shape(entry: unknown, id: string): unknown {
  const { password: _p, salt: _s, iterations, acls, ...rest } = entry as Record<string, unknown>;
  const sorted = Array.isArray(acls) ? (acls as Array<{ acltype: string; topic?: string }>).map((a) => JSON.stringify(a).replaceAll(id, 'ID')).sort() : undefined;
  return { ...(JSON.parse(JSON.stringify(rest).replaceAll(id, 'ID')) as object), iterations, acls: sorted };
}

/**
 * The storm bench's fast path for Outpost-on-Mosquitto (bench/storm/dynsec-file.ts): the broker-admin
 * code's create commands written into the plugin's file give the same client and role the plugin
 * makes of them, with a password Mosquitto accepts.
 */
describe('dynamic-security file written from the enrolment commands', () => {
  const topics = new Topics();
  let dynsec: MosquittoDynsecServer | undefined;
  let mosquitto: MosquittoServer | undefined;
  let dir: TempDir | undefined;
  const clients: MqttClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await dynsec?.stop();
    await mosquitto?.stop();
    await dir?.remove();
  });

  it('matches what the plugin saves for the same commands, and Mosquitto loads it', { timeout: 60_000 }, async () => {
    dynsec = await startMosquittoDynsecServer();
    await dynsec.enroll('storm-by-plugin');
    const saved = parseDynsecFile(await readFile(dynsec.dynsecFile, 'utf8'));
    await dynsec.stop();
    dynsec = undefined;

    const base: DynsecFile = {
      ...saved,
      clients: saved.clients.filter((c) => c.username !== 'storm-by-plugin'),
      roles: saved.roles.filter((r) => !r.rolename.endsWith('storm-by-plugin')),
    };
    const secret = randomBytes(24).toString('base64url');
    const written = applyDynsecCommands(base, commandsFor({ kind: 'create', deviceId: 'storm-by-file', secret }, topics).commands);
    const pick = (f: DynsecFile, id: string) => ({
      client: f.clients.find((c) => c.username === id),
      role: f.roles.find((r) => r.rolename.endsWith(`:${id}`)),
    });
    const plugin = pick(saved, 'storm-by-plugin');
    const ours = pick(written, 'storm-by-file');
    expect(shape(ours.client, 'storm-by-file')).toEqual(shape(plugin.client, 'storm-by-plugin'));
    expect(shape(ours.role, 'storm-by-file')).toEqual(shape(plugin.role, 'storm-by-plugin'));
    expect(written.defaultACLAccess).toEqual(saved.defaultACLAccess);
    const c = ours.client as unknown as { password: string; salt: string; iterations: number };
    expect(pbkdf2Sync(secret, Buffer.from(c.salt, 'base64'), c.iterations, 64, 'sha512').toString('base64')).toBe(c.password);

    dir = await makeTempDir('storm-dynsec-file');
    const file = join(dir.path, 'dynamic-security.json');
    await writeFile(file, JSON.stringify(written));
    mosquitto = await startMosquitto({ allowAnonymous: false, extraConfig: [`plugin ${dynsecPluginPath()}`, `plugin_opt_config_file ${file}`] });
    const device = await mqtt.connectAsync(mosquitto.url, { clientId: 'storm-by-file', username: 'storm-by-file', password: secret, protocolVersion: 4, reconnectPeriod: 0 });
    clients.push(device);
    expect(await grantedQos(device, topics.desired('storm-by-file'))).toBe(1);
    expect(await grantedQos(device, topics.desired('storm-by-plugin'))).toBe(128);
    await expect(
      mqtt.connectAsync(mosquitto.url, { clientId: 'storm-by-file', username: 'storm-by-file', password: 'wrong', protocolVersion: 4, reconnectPeriod: 0 }),
    ).rejects.toThrow(/Not authorized|Bad username or password/i);
  });

  it('refuses commands it cannot apply without the plugin', () => {
    expect(() => applyDynsecCommands(parseDynsecFile('{}'), [{ command: 'deleteClient', username: 'x' }])).toThrow(/cannot be applied/);
    expect(() => applyDynsecCommands(parseDynsecFile('{}'), [{ command: 'createClient', username: 'x', roles: [{ rolename: 'nope' }] }])).toThrow(/no role nope/);
  });
});
