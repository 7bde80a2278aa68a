import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from '../helpers/agent-process.js';
import { startAedesFixture, type BrokerFixture } from '../helpers/brokers.js';
import type { ManagedProcess } from '../helpers/process.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

/**
 * Issue 12: an agent the broker refuses (a wrong secret, an id nobody
 * enrolled) says so with what to check, naming its device id and its secret
 * file — not only "Connection refused: Not authorized" on every retry.
 */
describe('an agent the broker refuses', () => {
  let broker: BrokerFixture;
  let dir: TempDir;
  const agents: ManagedProcess[] = [];

  beforeAll(async () => {
    broker = await startAedesFixture();
    dir = await makeTempDir('refused');
  });

  afterAll(async () => {
    for (const a of agents) await a.stop();
    await broker?.stop();
    await dir?.remove();
  });

  const run = async (deviceId: string, secret: string): Promise<{ agent: ManagedProcess; secretFile: string }> => {
    const secretFile = join(dir.path, `${deviceId}.secret`);
    await writeFile(secretFile, secret, { mode: 0o600 });
    const agent = await startAgent({ deviceId, brokerUrl: broker.url, secret: '', secretFile, stateDir: join(dir.path, deviceId) });
    agents.push(agent);
    return { agent, secretFile };
  };

  it('with a wrong secret, and with an id nobody enrolled: the error names the device, its secret file and what to run', async () => {
    await broker.enroll('refused-known');
    for (const deviceId of ['refused-known', 'refused-unknown']) {
      const { agent, secretFile } = await run(deviceId, 'not-the-secret-of-this-device');
      const line = await agent.waitForLine(/"hint":"the broker refused device.*"msg":"mqtt error"/, 30_000);
      expect(line).toContain('"level":50');
      expect(line).toContain(`\\"${deviceId}\\"`);
      expect(line).toContain(secretFile);
      expect(line).toContain(`outpost device show ${deviceId}`);
      expect(line).toContain(`"deviceId":"${deviceId}"`);
    }
  });
});
