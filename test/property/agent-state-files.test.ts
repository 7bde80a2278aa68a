import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentMeta, StateStore } from '../../agent/state/state-store.js';
import { TrustStore } from '../../agent/state/trust-store.js';
import { trustedKeyOf } from '../../shared/desired-signature.js';
import { DesiredState } from '../../shared/schemas/desired-state.js';
import { captureLogs } from '../helpers/log-capture.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { mutated } from './arbitraries/mutate.js';
import { desiredStateArb } from './arbitraries/protocol.js';
import { runs } from './arbitraries/settings.js';

/**
 * The agent's disk cache (agent/state): whatever a state file holds after a
 * crash, a full disk or tampering, reading it back gives a valid document of
 * this device, or "absent" with a log line; never an exception, never
 * another device's state. What the agent wrote itself reads back unchanged.
 */

const DEVICE = 'kiosk-a';

const metaArb = fc.record({
  deviceId: fc.constantFrom(DEVICE, 'kiosk-b'),
  appliedVersion: fc.option(fc.integer({ min: 1, max: 1000 }), { nil: null }),
  appliedAt: fc.option(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), { nil: null }),
  lastEpoch: fc.nat(),
  failedVersion: fc.option(fc.integer({ min: 1, max: 1000 }), { nil: null }),
  rollback: fc.constant(null),
  pulledImages: fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 }),
  clock: fc.option(
    fc.record({
      skewMs: fc.integer({ min: -86_400_000, max: 86_400_000 }),
      rttMs: fc.option(fc.nat({ max: 10_000 }), { nil: null }),
      measuredAt: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    }),
    { nil: null },
  ),
});

/** What a state file may contain: garbage, truncated or mutated JSON, or a valid document (of this device or another). */
function contentArb(valid: fc.Arbitrary<unknown>): fc.Arbitrary<string | Buffer> {
  return fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    fc.string({ maxLength: 100 }),
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? ''),
    valid.map((v) => JSON.stringify(v)),
    valid.chain((v) => {
      const text = JSON.stringify(v);
      return fc.nat({ max: text.length }).map((n) => text.slice(0, n));
    }),
    mutated(valid).map((v) => JSON.stringify(v) ?? ''),
  );
}

describe('agent state files (property-based)', () => {
  let dir: TempDir;
  const { logger, logs } = captureLogs();
  let store: StateStore;

  beforeAll(async () => {
    dir = await makeTempDir('state-fuzz');
    store = new StateStore(dir.path, DEVICE, logger);
    await store.init();
  });
  afterAll(async () => {
    await dir?.remove();
  });

  const docArb = desiredStateArb({ deviceId: fc.constantFrom(DEVICE, DEVICE, 'kiosk-b') });

  it.each([
    ['desired.json', () => store.loadDesired()],
    ['applied.json', () => store.loadApplied()],
  ] as const)('%s with random content: a valid document of this device, or absent with a log line', async (file, load) => {
    await fc.assert(
      fc.asyncProperty(contentArb(docArb), async (content) => {
        await writeFile(join(dir.path, file), content);
        const logged = logs.length;
        const doc = await load();
        if (doc === null) {
          expect(logs.slice(logged).filter((l) => l.level >= 50).length, 'a refused state file is logged').toBe(1);
          return;
        }
        expect(doc.deviceId).toBe(DEVICE);
        expect(DesiredState.parse(JSON.parse(JSON.stringify(doc)))).toEqual(doc);
      }),
      runs(300),
    );
  });

  it('agent-state.json with random content: a valid record of this device, or a fresh one (logged when corrupt)', async () => {
    await fc.assert(
      fc.asyncProperty(contentArb(metaArb), async (content) => {
        await writeFile(join(dir.path, 'agent-state.json'), content);
        const logged = logs.length;
        const meta = await store.loadMeta();
        expect(meta.deviceId).toBe(DEVICE);
        expect(AgentMeta.parse(meta)).toEqual(meta);
        const fresh = meta.appliedVersion === null && meta.lastEpoch === 0 && meta.pulledImages.length === 0;
        if (!fresh) return;
        // Fresh because the file was corrupt (logged) or because it was another device's or empty state (not an error).
        const corrupt = logs.slice(logged).some((l) => l.msg === 'agent state file is corrupt; starting from empty state');
        const parsesAsMeta = (() => {
          try {
            return AgentMeta.safeParse(JSON.parse(String(content))).success;
          } catch {
            return false;
          }
        })();
        expect(corrupt).toBe(!parsesAsMeta);
      }),
      runs(300),
    );
  });

  it('what the agent saves it reads back unchanged, registry credentials left out', async () => {
    await fc.assert(
      fc.asyncProperty(desiredStateArb({ deviceId: fc.constant(DEVICE) }), metaArb.map((m) => ({ ...m, deviceId: DEVICE })), async (input, meta) => {
        const doc = DesiredState.parse(input);
        await store.saveDesired(doc);
        await store.saveApplied(doc);
        await store.saveMeta(meta);
        const { registryAuth: _secret, ...withoutSecrets } = doc;
        expect(await store.loadDesired()).toEqual(withoutSecrets);
        expect(await store.loadApplied()).toEqual(withoutSecrets);
        expect(await store.loadMeta()).toEqual(meta);
      }),
      runs(150),
    );
  });

  it('trust.json with random content: the provisioned keys again (a corrupt file logged), never an exception', async () => {
    const provisioned = generateKeyPairSync('ed25519').publicKey;
    const pem = provisioned.export({ format: 'pem', type: 'spki' }).toString();
    const trusted = trustedKeyOf(provisioned);
    const validTrust = fc.record({ seededFrom: fc.string({ maxLength: 64 }), keys: fc.constant([trusted]) });
    await fc.assert(
      fc.asyncProperty(contentArb(validTrust), async (content) => {
        await writeFile(join(dir.path, 'trust.json'), content);
        const logged = logs.length;
        const trust = new TrustStore(dir.path, pem, logger);
        await trust.load();
        expect(trust.keys).toEqual([trusted]);
        const said = logs.slice(logged).map((l) => l.msg);
        expect(said.some((m) => m.includes('corrupt') || m.includes('trust file changed'))).toBe(true);
      }),
      runs(200),
    );
  });
});
