import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/lib/free-port.js';
import { dynsecPluginPath } from '../helpers/mosquitto-dynsec.js';
import { spawnProcess, type ManagedProcess } from '../helpers/process.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

const SHIPPED = new URL('../../compose/mosquitto/mosquitto.conf', import.meta.url);

/**
 * compose/mosquitto/mosquitto.conf as shipped, with only its paths and ports moved into a temp dir
 * (and the TLS files left out): Mosquitto 2.0 starts on it and listens on its listeners only. A
 * listener-scoped setting (max_qos) above every listener line made it open a default 0.0.0.0:1883 too,
 * which collided with `listener 1883 127.0.0.1` and stopped the broker.
 */
describe('the shipped Mosquitto configuration', () => {
  let dir: TempDir | undefined;
  let proc: ManagedProcess | undefined;
  afterEach(async () => {
    await proc?.stop();
    await dir?.remove();
  });

  it('starts, with no listener but its own', { timeout: 30_000 }, async () => {
    dir = await makeTempDir('compose-mosquitto');
    const dynsecFile = join(dir.path, 'dynamic-security.json');
    const init = spawnProcess('mosquitto_ctrl', { args: ['dynsec', 'init', dynsecFile, 'outpost-admin', 'admin-password'] });
    expect((await init.waitForExit(10_000)).code).toBe(0);
    const [plain, tls] = [await freePort(), await freePort()];
    const shipped = await readFile(SHIPPED, 'utf8');
    const conf = [
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      shipped
        .replace(/^plugin \S+$/m, `plugin ${dynsecPluginPath()}`)
        .replace(/^plugin_opt_config_file \S+$/m, `plugin_opt_config_file ${dynsecFile}`)
        .replace(/^persistence_location \S+$/m, `persistence_location ${dir.path}/`)
        .replace(/^listener 1883 127\.0\.0\.1$/m, `listener ${plain} 127.0.0.1`)
        .replace(/^listener 8883$/m, `listener ${tls} 127.0.0.1`)
        .replace(/^(cafile|certfile|keyfile|tls_version) .*$/gm, ''),
      'log_type information',
    ].join('\n');
    const file = join(dir.path, 'mosquitto.conf');
    await writeFile(file, conf);
    proc = spawnProcess('mosquitto', { args: ['-c', file] });
    await proc.waitForLine(/ running$/, 20_000);
    const ports = [...proc.output().matchAll(/Opening ipv[46] listen socket on port (\d+)/g)].map((m) => Number(m[1]));
    expect(new Set(ports)).toEqual(new Set([plain, tls]));
  });
});
