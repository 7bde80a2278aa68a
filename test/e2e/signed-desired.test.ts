import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getSigningKeys, rotateSigningKey, trustFileOf } from '../../cli/client/signing-client.js';
import { signDocument, trustedKeyOf, type SigningKey } from '../../shared/desired-signature.js';
import { newSecret } from '../../shared/device-credentials.js';
import type { ReportedState } from '../../shared/schemas/reported-state.js';
import { startAgent } from '../helpers/agent-process.js';
import { startBrokerRig, type BrokerRig } from '../helpers/controller-process.js';
import { startInProcessControlPlane, type InProcessControlPlane } from '../helpers/controller-in-process.js';
import { watchDesired, type DesiredWatch } from '../helpers/desired-watch.js';
import { deviceContainers } from '../helpers/device-containers.js';
import { removeDeviceContainers, waitFor } from '../helpers/docker.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { TEST_IMAGE } from '../helpers/images.js';
import type { ManagedProcess } from '../helpers/process.js';
import { connectTestController, type TestController } from '../helpers/test-controller.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

const APP = 'sig';

/**
 * Issue 9, test 3: the agent runs only documents its controller signed
 * (DD-026). Tampered, other-device, expired, replayed and foreign-key
 * documents are each refused with their code while the running workload is
 * untouched; the controller's key rotates without re-enrolment, across an
 * agent restart; a device whose document expired keeps running it and says
 * it is stale.
 */
describe('signed desired documents', () => {
  let rig: BrokerRig;
  let cp: InProcessControlPlane;
  let watch: DesiredWatch;
  let attacker: TestController;
  let redis: Redis;
  let dir: TempDir;
  let agent: ManagedProcess | undefined;
  const id = `sig-${Date.now().toString(36)}`;
  let trustFile = '';
  dumpOnFailure((): Record<string, string> => (agent ? { agent: agent.output() } : {}));

  beforeAll(async () => {
    rig = await startBrokerRig();
    // Short validity, so expiry and refresh happen within the test.
    cp = await startInProcessControlPlane(rig, { controller: { desiredValiditySeconds: 20 } });
    watch = await watchDesired(rig.brokerUrl, rig.serviceAuth);
    attacker = await connectTestController(rig.brokerUrl, rig.serviceAuth);

    redis = new Redis(rig.redis.url);
    dir = await makeTempDir('signed');
    for (const v of ['1', '2', '3', '4']) await cp.client.createRelease({ app: APP, version: v, workloads: { main: { image: TEST_IMAGE, env: { RELEASE: v } } } });
    const secretFile = join(dir.path, 'secret');
    await writeFile(secretFile, newSecret());
    await cp.client.addDevice({ id, labels: { role: 'sig' }, secret: (await readFile(secretFile, 'utf8')).trim() });
    trustFile = join(dir.path, 'trust.pem');
    await writeFile(trustFile, trustFileOf(await getSigningKeys(cp.client)));
    await cp.client.createDeployment({ id: `dep-${id}`, app: APP, version: '1', target: { kind: 'selector', selector: 'role=sig' } });
    agent = await startAgent({ deviceId: id, brokerUrl: rig.brokerUrl, secret: '', secretFile, trustFile, stateDir: join(dir.path, 'state') });
    await converged('1');
  });

  afterAll(async () => {
    await agent?.stop();
    await attacker?.close();
    await watch?.close();
    redis?.disconnect();
    await cp?.close();
    await rig?.close();
    await removeDeviceContainers(id);
    await dir?.remove();
  });

  async function report(): Promise<ReportedState | null> {
    return (await cp.client.getDevice(id)).reported as ReportedState | null;
  }

  async function converged(release: string): Promise<void> {
    await waitFor(
      async () => {
        const d = await cp.client.getDevice(id);
        const cs = await deviceContainers(id);
        return d.inSync && d.phase === 'converged' && cs.length === 1 && cs[0]?.env.includes(`RELEASE=${release}`);
      },
      { timeoutMs: 60_000, description: `converged on ${APP}@${release}` },
    );
  }

  /** The controller's signing key, as an attacker who stole it would have it. */
  async function controllerKey(): Promise<SigningKey> {
    const pem = await redis.hget('outpost:signing-keys', 'active');
    if (!pem) throw new Error('no signing key in Redis');
    const privateKey = createPrivateKey(pem);
    return { keyId: trustedKeyOf(privateKey).keyId, privateKey };
  }

  function current() {
    const latest = watch.latest(id);
    if (!latest) throw new Error('no document seen');
    return latest;
  }

  it('refuses a tampered, another device\'s, an expired, a replayed and a foreign-key document, each with its code, and keeps running', async () => {
    const before = await deviceContainers(id);
    const held = current();
    const key = await controllerKey();
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const unsignedAt = (version: number, over: Record<string, unknown>) => {
      const { signature: _s, ...doc } = JSON.parse(held.raw) as Record<string, unknown>;
      return { ...doc, version, expiresAt: future, ...over };
    };
    const evil = generateKeyPairSync('ed25519').privateKey;
    const cases: [string, (version: number) => unknown, string][] = [
      ['tampered', (v) => ({ ...signDocument(unsignedAt(v, {}), [key]), workloads: { [`${APP}-main`]: { image: TEST_IMAGE, env: { RELEASE: 'evil' } } } }), 'DESIRED_SIGNATURE'],
      ['for another device', (v) => signDocument(unsignedAt(v, { deviceId: 'someone-else' }), [key]), 'DESIRED_WRONG_DEVICE'],
      ['expired', (v) => signDocument(unsignedAt(v, { expiresAt: new Date(Date.now() - 1000).toISOString() }), [key]), 'DESIRED_EXPIRED'],
      ['signed by an unknown key', (v) => signDocument(unsignedAt(v, {}), [{ keyId: trustedKeyOf(evil).keyId, privateKey: evil }]), 'DESIRED_SIGNATURE'],
      ['unsigned', (v) => unsignedAt(v, { signature: null }), 'DESIRED_UNSIGNED'],
    ];
    for (const [i, [name, make, code]] of cases.entries()) {
      // Each attack with a version of its own (and above anything genuine), so each gets its own verdict.
      const version = held.version + 1000 + i;
      await attacker.publishDesired(id, JSON.stringify(make(version)));
      await waitFor(
        async () => {
          const rejected = (await report())?.rejected;
          return rejected?.version === version && rejected.code === code;
        },
        { timeoutMs: 20_000, description: `${name} refused with ${code}` },
      );
      expect((await deviceContainers(id)).map((c) => [c.id, c.state]), name).toEqual(before.map((c) => [c.id, c.state]));
    }

    // A replay of an older, genuine document is ignored (never applied) once a newer one runs.
    const v1 = watch.history(id).find((d) => d.doc.workloads[`${APP}-main`]?.env?.RELEASE === '1');
    await cp.client.setOverrides(id, { env: { AFTER: 'attacks' } });
    await waitFor(async () => (await deviceContainers(id))[0]?.env.includes('AFTER=attacks'), { timeoutMs: 60_000, description: 'a genuine change still applies' });
    const running = await deviceContainers(id);
    if (!v1) throw new Error('no v1 seen');
    // Subscribed before the replay goes out, so its verdict cannot be missed.
    const events = (await attacker.watch(id)).events;
    await attacker.publishDesired(id, v1.raw);
    await waitFor(() => events.find((e) => e.type === 'desired.ignored' && e.code === 'DESIRED_OUTDATED' && e.version === v1.version), {
      timeoutMs: 20_000,
      description: 'the replay ignored with DESIRED_OUTDATED',
    });
    expect((await deviceContainers(id)).map((c) => c.id)).toEqual(running.map((c) => c.id));
  });

  it('rotates the signing key without re-enrolment, across an agent restart', async () => {
    const first = await getSigningKeys(cp.client);
    const oldKey = await controllerKey();
    const rotated = await rotateSigningKey(cp.client, 'rotate');
    const next = rotated.keys.next;
    if (!next) throw new Error('no next key');
    // Every document is re-signed by both keys and announces both: the agent persists the new one.
    await waitFor(async () => (await readFile(join(dir.path, 'state', 'trust.json'), 'utf8')).includes(next.keyId), { timeoutMs: 30_000, description: 'new key persisted' });
    await agent?.stop();
    agent = undefined;
    await rotateSigningKey(cp.client, 'finish');
    await cp.client.setOverrides(id, { env: { AFTER: 'rotation' } });
    const doc = await watch.waitForDoc(id, (d) => d.doc.workloads[`${APP}-main`]?.env?.AFTER === 'rotation', 'a document signed by the new key only');
    expect(doc.doc.signature).toMatchObject({ keyId: next.keyId });
    // Restarted with its original trust file (the old key only): it still trusts the rotated key.
    agent = await startAgent({ deviceId: id, brokerUrl: rig.brokerUrl, secret: '', secretFile: join(dir.path, 'secret'), trustFile, stateDir: join(dir.path, 'state') });
    await waitFor(async () => (await deviceContainers(id))[0]?.env.includes('AFTER=rotation'), { timeoutMs: 60_000, description: 'applied after the rotation' });
    expect(first.active.keyId).toBe(oldKey.keyId);
    // And a document signed by the retired key alone is refused now.
    const { signature: _s, ...unsigned } = JSON.parse(current().raw) as Record<string, unknown>;
    const version = current().version + 500;
    await attacker.publishDesired(id, JSON.stringify(signDocument({ ...unsigned, version }, [oldKey])));
    await waitFor(
      async () => {
        const rejected = (await report())?.rejected;
        return rejected?.version === version && rejected.code === 'DESIRED_SIGNATURE';
      },
      { timeoutMs: 20_000, description: 'the retired key is no longer trusted' },
    );
  });

  it('a device whose document expired keeps running it and reports stale, until the controller re-signs it', async () => {
    // A genuine version first (it also clears the rejection an earlier attack left in the report).
    await cp.client.setOverrides(id, { env: { PHASE: 'stale-test' } });
    await waitFor(async () => (await report())?.phase === 'converged' && (await deviceContainers(id))[0]?.env.includes('PHASE=stale-test'), {
      timeoutMs: 60_000,
      description: 'converged before the expiry test',
    });
    const running = (await deviceContainers(id)).map((c) => c.id);
    // The controller re-signs before expiry: nothing goes stale while it runs.
    const held = current();
    await watch.waitForDoc(id, (d) => d.version === held.version && d.doc.expiresAt !== held.doc.expiresAt, 'a re-signed copy of the same version', 30_000);
    expect((await report())?.stale ?? null).toBeNull();

    // No controller: the document expires; the device keeps running it and says so.
    await cp.close();
    // Nobody ingests now: what the device says is read off the broker.
    const said = await attacker.watch(id);
    const stale = await said.waitForReport((r) => r.stale != null, 40_000, 'reported stale');
    expect(stale.stale?.version).toBe(held.version);
    await said.waitForEvent((e) => e.type === 'desired.stale' && e.code === 'DESIRED_EXPIRED', 5_000, 'a desired.stale event');
    expect((await deviceContainers(id)).map((c) => c.id)).toEqual(running);

    // Back: re-signed, fresh again.
    cp = await startInProcessControlPlane(rig, { controller: { desiredValiditySeconds: 20 } });
    await waitFor(async () => ((await report())?.stale ?? null) === null, { timeoutMs: 40_000, description: 'fresh again' });
  });
});
