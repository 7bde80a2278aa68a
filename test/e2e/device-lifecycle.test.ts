import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClientError } from '../../cli/client/api-client.js';
import { deviceRoleName } from '../../controller/broker-admin/dynsec-acl.js';
import { executeDynsecSteps } from '../../controller/broker-admin/dynsec-steps.js';
import { observeDynsec } from '../../controller/broker-admin/observe-dynsec.js';
import { newSecret } from '../../shared/device-credentials.js';
import { Topics } from '../../shared/topics.js';
import { startAgent } from '../helpers/agent-process.js';
import { runCli } from '../helpers/cli-run.js';
import { startBrokerRig, type BrokerRig } from '../helpers/controller-process.js';
import { startInProcessControlPlane, type InProcessControlPlane } from '../helpers/controller-in-process.js';
import { watchDesired, type DesiredWatch } from '../helpers/desired-watch.js';
import { deviceContainers } from '../helpers/device-containers.js';
import { removeDeviceContainers, waitFor } from '../helpers/docker.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { TEST_IMAGE } from '../helpers/images.js';
import type { ManagedProcess } from '../helpers/process.js';
import { connectTestController, type TestController } from '../helpers/test-controller.js';
import type { MosquittoDynsecServer } from '../helpers/mosquitto-dynsec.js';
import { retainedOn } from '../helpers/retained-probe.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

const APP = 'life';

/**
 * Issue 8, tests 4 and 5: secret rotation ends the live session and the
 * device comes back with the new secret; decommission survives a failing
 * purge and a missing broker (retried, visible meanwhile), `--wipe` removes
 * the workloads on a real agent, and no desired document ever appears for a
 * device after its retained one was cleared.
 */
describe('device lifecycle', () => {
  let rig: BrokerRig;
  let cp: InProcessControlPlane;
  let watch: DesiredWatch;
  let observer: TestController;
  let dir: TempDir;
  /** While true the purge fails; each failure is counted. */
  let purgeRefused = false;
  let purgeFailures = 0;
  const agents: ManagedProcess[] = [];
  const devices: string[] = [];
  dumpOnFailure((): Record<string, string> => Object.fromEntries(agents.map((a) => [a.name, a.output()])));

  beforeAll(async () => {
    rig = await startBrokerRig();
    dir = await makeTempDir('lifecycle');
    // The real purge (of either broker), behind a switch that makes it fail while the test wants it to.
    const purge = (deviceId: string, realPurge: (deviceId: string) => Promise<void>): Promise<void> => {
      if (purgeRefused) {
        purgeFailures += 1;
        return Promise.reject(new Error('purge refused (injected failure)'));
      }
      return realPurge(deviceId);
    };
    cp = await startInProcessControlPlane(rig, { deps: { purgeSession: purge } });
    watch = await watchDesired(rig.brokerUrl, rig.serviceAuth);
    observer = await connectTestController(rig.brokerUrl, rig.serviceAuth);
    await cp.client.createRelease({ app: APP, version: '1', workloads: { web: { image: TEST_IMAGE } } });
  });

  afterAll(async () => {
    for (const a of agents) await a.stop();
    for (const d of devices) await removeDeviceContainers(d);
    await observer?.close();
    await watch?.close();
    await cp?.close();
    await rig?.close();
    await dir?.remove();
  });

  const api = () => ({ url: cp.running.apiUrl, token: rig.adminToken });

  async function enrolWithAgent(id: string): Promise<{ agent: ManagedProcess; secretFile: string; secret: string }> {
    devices.push(id);
    const secretFile = join(dir.path, `${id}.secret`);
    const added = await runCli(['device', 'add', id, '--label', `dev=${id}`, '--secret-file', secretFile], api());
    expect(added.code, added.stderr).toBe(0);
    await cp.client.createDeployment({ id: `dep-${id}`, app: APP, version: '1', target: { kind: 'devices', devices: [id] } });
    const agent = await startAgent({ deviceId: id, brokerUrl: rig.brokerUrl, secret: '', secretFile, stateDir: join(dir.path, id) });
    agents.push(agent);
    await waitFor(async () => (await cp.client.getDevice(id)).phase === 'converged', { timeoutMs: 60_000, description: `${id} converged` });
    return { agent, secretFile, secret: (await readFile(secretFile, 'utf8')).trim() };
  }

  /**
   * Mosquitto keeps clients, roles and sessions itself: the dynsec client and its role are gone, and
   * the persistent session with its queued message too — a client created again under the same id
   * (by the admin, as only the test can) finds no session.
   */
  async function expectNothingOnMosquitto(dynsec: MosquittoDynsecServer, id: string): Promise<void> {
    const admin = await dynsec.adminClient();
    const observed = await observeDynsec(admin);
    expect(observed.clients.map((c) => c.username)).not.toContain(id);
    expect(observed.roles).not.toContain(deviceRoleName(id));
    const secret = await dynsec.enroll(id);
    try {
      const again = mqtt.connect(rig.brokerUrl, { clientId: id, username: id, password: secret, clean: false, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000 });
      try {
        const connack = await new Promise<mqtt.IConnackPacket>((resolve, reject) => {
          again.once('connect', resolve);
          again.once('error', reject);
        });
        expect(connack.sessionPresent).toBe(false);
      } finally {
        await again.endAsync(true);
      }
    } finally {
      const [deleted] = await executeDynsecSteps(admin, new Topics(), [{ kind: 'delete', deviceId: id }]);
      expect(deleted?.error).toBeNull();
    }
  }

  function connectAs(id: string, secret: string): Promise<mqtt.MqttClient> {
    return mqtt.connectAsync(rig.brokerUrl, { clientId: id, username: id, password: secret, clean: false, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000 });
  }

  it('rotate-secret ends the live session at once; the old secret is refused; the agent reconnects with the new one from its secret file', async () => {
    const id = `rot-${Date.now().toString(36)}`;
    const { agent, secretFile, secret: oldSecret } = await enrolWithAgent(id);
    const presence = (await observer.watch(id)).presence;
    const online = await waitFor(() => presence.findLast((p) => p.status === 'online'), { description: 'online presence' });

    const rotated = await runCli(['device', 'rotate-secret', id, '--secret-file', secretFile], api());
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toContain('its live session with the old secret was ended');
    const newSecret = (await readFile(secretFile, 'utf8')).trim();
    expect(newSecret).not.toBe(oldSecret);

    // The session that authenticated with the old secret ended: on Outpost's broker its will says
    // offline; Mosquitto's dynsec kick publishes no will (DD-030), so there the agent's own log says so.
    if (rig.dynsec) await agent.waitForLine(new RegExp(`"epoch":${online.epoch},"msg":"disconnected"`), 10_000);
    else await waitFor(() => presence.find((p) => p.status === 'offline' && p.epoch >= online.epoch), { description: 'old session ended' });
    // ... and the agent is back, on a new connection, with the new secret from the file.
    await waitFor(() => presence.find((p) => p.status === 'online' && p.epoch > online.epoch), { timeoutMs: 30_000, description: 'agent back online' });
    await expect(connectAs(id, oldSecret)).rejects.toThrow(/Not authorized|Bad username or password/i);

    // And it still gets what the operator deploys.
    await cp.client.setOverrides(id, { env: { AFTER_ROTATION: 'yes' } });
    await waitFor(async () => {
      const d = await cp.client.getDevice(id);
      return d.inSync && d.phase === 'converged' && d.online;
    }, { timeoutMs: 60_000, description: 'converged after the rotation' });
    expect((await deviceContainers(id))[0]?.env).toContain('AFTER_ROTATION=yes');
  });

  it('a rotation repeated with the same client secret keeps the session that already uses it', async () => {
    const id = `rot2-${Date.now().toString(36)}`;
    const sentinel = `${id}-s`;
    devices.push(id, sentinel);
    const first = newSecret();
    await cp.client.addDevice({ id, labels: {}, secret: first });
    await cp.client.addDevice({ id: sentinel, labels: {}, secret: first });
    const next = newSecret();
    await cp.client.rotateSecret(id, { secret: next });
    const client = await connectAs(id, next);
    let closed = false;
    client.on('close', () => {
      closed = true;
    });
    // The retry of the same rotation (its answer was lost) ...
    const again = await cp.client.rotateSecret(id, { secret: next });
    expect(again.brokersNotified).toBe(1);
    // ... and then a rotation that must end a session: the broker handles announcements in order,
    // so once that one is closed, the retry above was handled too.
    const other = await connectAs(sentinel, first);
    const otherClosed = new Promise<void>((resolve) => other.once('close', () => resolve()));
    await cp.client.rotateSecret(sentinel, {});
    await otherClosed;
    expect(closed).toBe(false);
    await client.endAsync();
    await other.endAsync(true);
    await expect(connectAs(id, first)).rejects.toThrow(/Not authorized|Bad username or password/i);
  });

  it('a decommission whose purge fails is retried by itself and visible meanwhile; the broker keeps nothing of the device', async () => {
    const id = `purge-${Date.now().toString(36)}`;
    devices.push(id);
    const secret = newSecret();
    await cp.client.addDevice({ id, labels: {}, secret });
    await cp.client.createDeployment({ id: `dep-${id}`, app: APP, version: '1', target: { kind: 'devices', devices: [id] } });
    // A persistent session with a queued message, as a device that went offline leaves behind.
    const device = await connectAs(id, secret);
    await device.subscribeAsync(`outpost/v1/devices/${id}/desired`, { qos: 1 });
    await device.endAsync();
    await cp.client.setOverrides(id, { env: { QUEUED: 'yes' } });

    // Refused until the checks below are done, however long they take: the retries must not finish first.
    purgeRefused = true;
    purgeFailures = 0;
    const answer = await cp.client.removeDevice(id);
    expect(answer.status).toBe(202);
    expect(answer.decommission).toMatchObject({ state: 'pending', remaining: ['purge-session', 'forget'], attempts: 1 });
    expect(answer.decommission.lastError).toContain('purge refused (injected failure)');
    // Visible: device show, the device list and the fleet status say so.
    const shown = await cp.client.getDevice(id);
    expect(shown.decommissioning).toBe(true);
    expect(shown.decommission?.remaining[0]).toBe('purge-session');
    expect((await cp.client.fleet()).decommissioning).toContain(id);
    const show = await runCli(['device', 'show', id], api());
    expect(show.stdout).toMatch(/Decommission[\s\S]*purge-session[\s\S]*purge refused/);
    // A change to it is refused now.
    await expect(cp.client.updateLabels(id, { set: { a: 'b' } })).rejects.toMatchObject({ code: 'DEVICE_DECOMMISSIONING' });

    // Retried by itself until the purge succeeds; then forgotten.
    expect(purgeFailures).toBeGreaterThanOrEqual(1);
    purgeRefused = false;
    await waitFor(async () => cp.client.getDevice(id).then(() => false, (e: unknown) => e instanceof ApiClientError && e.code === 'DEVICE_NOT_FOUND'), {
      // The retry back-off (1 s doubling, jittered) grew with the failures while the checks ran.
      timeoutMs: 90_000,
      description: 'decommission finished',
    });
    const redis = new Redis(rig.redis.url);
    try {
      // The version counter stays (a re-enrolled device keeps counting up), the tombstone for a day, and
      // the operator's own deployment that lists the device by id.
      const left = (await redis.keys(`*${id}*`)).filter((k) => !/^outpost:(version|tomb:device|deployment):/.test(k));
      expect(left, JSON.stringify(await Promise.all(left.map(async (k) => [k, await redis.type(k)])))).toEqual([]);
    } finally {
      redis.disconnect();
    }
    // Nothing retained is left on the broker for it.
    const t = new Topics();
    expect(await retainedOn(rig.brokerUrl, rig.serviceAuth, [t.desired(id), t.reported(id), t.presence(id)])).toEqual(new Map());
    if (rig.dynsec) await expectNothingOnMosquitto(rig.dynsec, id);
    const retried = await cp.client.removeDevice(id);
    expect(retried.decommission).toMatchObject({ state: 'done', attempts: purgeFailures });
  });

  it('with the broker down, decommission answers pending and finishes by itself once the broker is back', async () => {
    const id = `down-${Date.now().toString(36)}`;
    devices.push(id);
    await cp.client.addDevice({ id, labels: {}, secret: newSecret() });
    await rig.stopBroker();
    let answer;
    try {
      answer = await cp.client.removeDevice(id);
    } finally {
      await rig.startBroker();
    }
    expect(answer.status).toBe(202);
    expect(answer.decommission).toMatchObject({ state: 'pending', remaining: ['clear-retained', 'purge-session', 'forget'] });
    await waitFor(async () => cp.client.getDevice(id).then(() => false, (e: unknown) => e instanceof ApiClientError && e.code === 'DEVICE_NOT_FOUND'), {
      timeoutMs: 60_000,
      description: 'decommission finished after the broker came back',
    });
  });

  it('rm --wipe removes the workloads on a real agent first; no desired document appears for it afterwards, whatever recomputes meanwhile', async () => {
    const id = `wipe-${Date.now().toString(36)}`;
    await enrolWithAgent(id);
    expect(await deviceContainers(id)).toHaveLength(1);
    // A selector deployment that matches it, and recomputes racing the decommission.
    await cp.client.createDeployment({ id: `dep-sel-${id}`, app: APP, version: '1', target: { kind: 'selector', selector: `dev=${id}` }, priority: 5 });
    let racing = true;
    const race = (async () => {
      let n = 0;
      while (racing && n < 200) {
        await cp.running.controller.publisher.recompute();
        await cp.client.setOverrides(id, { env: { RACE: String(n++) } }).catch(() => undefined);
      }
    })();
    const rm = await runCli(['device', 'rm', id, '--wipe', '--yes', '--wipe-timeout', '60'], api());
    racing = false;
    await race;
    expect(rm.code, rm.stderr).toBe(0);
    expect(rm.stdout, `${rm.stdout}\n${agents.at(-1)?.output().slice(-6000)}`).toContain(`Device ${id} decommissioned; the device removed its workloads`);
    expect(await deviceContainers(id)).toEqual([]);

    // A sentinel published after everything: whatever was going to arrive has.
    const sentinel = `${id}-sentinel`;
    devices.push(sentinel);
    await cp.client.addDevice({ id: sentinel, labels: {}, secret: newSecret() });
    await cp.client.createDeployment({ id: `dep-${sentinel}`, app: APP, version: '1', target: { kind: 'devices', devices: [sentinel] } });
    await watch.waitForDoc(sentinel, (d) => Object.keys(d.doc.workloads).length === 1, 'sentinel document');
    expect(watch.lastIsClear(id)).toBe(true);
    expect(watch.history(id).at(-1)?.doc.workloads).toEqual({});
    expect(watch.violations()).toEqual([]);
    await expect(cp.client.getDevice(id)).rejects.toMatchObject({ code: 'DEVICE_NOT_FOUND' });
  });

  it('enrolment is one step: the device and its credential exist together, and a repeated enrolment is idempotent', async () => {
    const id = `enrol-${Date.now().toString(36)}`;
    devices.push(id);
    const secret = newSecret();
    const first = await cp.client.addDevice({ id, labels: { a: 'b' }, secret });
    const again = await cp.client.addDevice({ id, labels: { a: 'b' }, secret });
    expect([first.created, again.created]).toEqual([true, false]);
    await expect(cp.client.addDevice({ id, labels: { a: 'b' }, secret: newSecret() })).rejects.toMatchObject({ code: 'DEVICE_EXISTS' });
    await expect(cp.client.addDevice({ id, labels: { a: 'c' }, secret })).rejects.toMatchObject({ code: 'DEVICE_EXISTS' });
    const client = await connectAs(id, secret);
    await client.endAsync();
  });
});
