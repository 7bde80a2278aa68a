import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyDesired, type InboxContext, type InboxVerdict } from '../../agent/mqtt/desired-inbox.js';
import { devicePolicy } from '../../agent/policy/device-policy.js';
import { signDocument, trustedKeyOf, verifyDocument, type SigningKey, type TrustedKey } from '../../shared/desired-signature.js';
import { ERROR_CATALOGUE } from '../../shared/errors.js';
import { DesiredState } from '../../shared/schemas/desired-state.js';
import { fakeHostFs } from '../helpers/fake-host-fs.js';
import { applyMutation, deepJsonArb, mutated } from './arbitraries/mutate.js';
import { desiredStateArb, timestampArb } from './arbitraries/protocol.js';
import { runs } from './arbitraries/settings.js';

/**
 * The agent's desired-document intake (agent/mqtt/desired-inbox.ts) against
 * random bytes, random JSON and valid, signed, forged and mutated documents.
 */

function keyPair(): { signer: SigningKey; trusted: TrustedKey } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const trusted = trustedKeyOf(publicKey);
  return { signer: { keyId: trusted.keyId, privateKey }, trusted };
}

const NOW = Date.parse('2026-11-30T12:00:00Z');
const TRUSTED = keyPair();
const STRANGER = keyPair();
const DEVICE = 'kiosk-a';

const policy = {
  rules: devicePolicy({ allowedHostPaths: ['/srv'], stateDir: '/var/lib/outpost', secretFiles: [], allowedCapabilities: ['NET_ADMIN'], allowedVolumes: [] }),
  fs: fakeHostFs({ '/srv': 'dir', '/srv/data': 'dir' }),
};

const ctxArb: fc.Arbitrary<InboxContext> = fc.record({
  deviceId: fc.constant(DEVICE),
  highestVersion: fc.option(fc.integer({ min: 1, max: 12 }), { nil: null }),
  maxBytes: fc.constantFrom(64 * 1024, 2048),
  policy: fc.constant(policy),
  signatures: fc.constantFrom<InboxContext['signatures']>({ mode: 'required', trusted: [TRUSTED.trusted], nowMs: NOW }, { mode: 'off' }),
});

/** Mostly this device, versions around what the device holds, expiring after NOW (or not). */
const docArb = desiredStateArb({
  deviceId: fc.constantFrom(DEVICE, DEVICE, DEVICE, 'kiosk-b'),
  version: fc.oneof(fc.integer({ min: 1, max: 14 }), fc.constant(Number.MAX_SAFE_INTEGER)),
  bindMounts: true,
}).chain((doc) =>
  fc
    .oneof({ weight: 4, arbitrary: fc.constant(new Date(NOW + 86_400_000).toISOString()) }, { weight: 1, arbitrary: timestampArb }, { weight: 1, arbitrary: fc.constant(undefined) })
    .map((expiresAt) => ({ ...doc, expiresAt }) as Record<string, unknown>),
);

type Json = Parameters<typeof applyMutation>[0];
const asJson = (v: unknown): Json => JSON.parse(JSON.stringify(v)) as Json;

/** The ways a payload reaches the inbox, honest and not. */
const payloadArb: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v) ?? '')) },
  { weight: 2, arbitrary: docArb.map((d) => Buffer.from(JSON.stringify({ ...d, signature: null }))) },
  { weight: 4, arbitrary: docArb.map((d) => Buffer.from(JSON.stringify(signDocument(d, [TRUSTED.signer])))) },
  { weight: 2, arbitrary: docArb.map((d) => Buffer.from(JSON.stringify(signDocument(d, [STRANGER.signer, TRUSTED.signer])))) },
  { weight: 1, arbitrary: docArb.map((d) => Buffer.from(JSON.stringify(signDocument(d, [STRANGER.signer])))) },
  // Signed, then altered in transit.
  { weight: 3, arbitrary: mutated(docArb.map((d) => signDocument(d, [TRUSTED.signer]))).map((d) => Buffer.from(JSON.stringify(d) ?? '')) },
  // Altered, then signed by the trusted key: a valid signature over a broken document.
  {
    weight: 2,
    arbitrary: mutated(docArb).map((d) =>
      Buffer.from(JSON.stringify(d !== null && typeof d === 'object' && !Array.isArray(d) ? signDocument(d as Record<string, unknown>, [TRUSTED.signer]) : d) ?? ''),
    ),
  },
  { weight: 1, arbitrary: deepJsonArb('workloads').map((text) => Buffer.from(text)) },
  // Truncated in transit.
  {
    weight: 1,
    arbitrary: docArb.chain((d) => {
      const text = JSON.stringify(signDocument(d, [TRUSTED.signer]));
      return fc.nat({ max: text.length }).map((n) => Buffer.from(text.slice(0, n)));
    }),
  },
);

function classify(payload: Buffer, ctx: InboxContext): InboxVerdict {
  // A copy each time: the inbox must not depend on (or change) the buffer it was given.
  return classifyDesired(Buffer.from(payload), ctx);
}

function rawOf(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
}

describe('classifyDesired (property-based)', () => {
  it('never throws, and every refusal carries a catalogued code and a reason', () => {
    fc.assert(
      fc.property(payloadArb, ctxArb, (payload, ctx) => {
        const verdict = classify(payload, ctx);
        if (verdict.kind === 'reject') {
          expect(Object.keys(ERROR_CATALOGUE)).toContain(verdict.code);
          expect(verdict.reason.length).toBeGreaterThan(0);
        }
        if (verdict.kind === 'ignore' && verdict.code !== undefined) expect(Object.keys(ERROR_CATALOGUE)).toContain(verdict.code);
      }),
      runs(1500),
    );
  });

  it('an accepted document is newer than what the device holds, is for this device, and is exactly what was sent, parsed', () => {
    fc.assert(
      fc.property(payloadArb, ctxArb, (payload, ctx) => {
        const verdict = classify(payload, ctx);
        if (verdict.kind !== 'accept') return;
        expect(verdict.doc.deviceId).toBe(ctx.deviceId);
        if (ctx.highestVersion !== null) expect(verdict.doc.version).toBeGreaterThan(ctx.highestVersion);
        expect(verdict.doc).toEqual(DesiredState.parse(rawOf(payload)));
      }),
      runs(1500),
    );
  });

  it('with signatures required, nothing whose signature does not verify is accepted, nor refreshes expiry, keys or credentials', () => {
    fc.assert(
      fc.property(payloadArb, ctxArb, (payload, ctx) => {
        if (ctx.signatures.mode !== 'required') return;
        const verdict = classify(payload, ctx);
        if (verdict.kind !== 'accept' && verdict.kind !== 'refresh') return;
        const check = verifyDocument(rawOf(payload), ctx.signatures.trusted, ctx.signatures.nowMs);
        expect(check, `verdict ${verdict.kind} for a document that does not verify`).toMatchObject({ ok: true });
      }),
      runs(1500),
    );
  });

  it('is deterministic', () => {
    fc.assert(
      fc.property(payloadArb, ctxArb, (payload, ctx) => {
        expect(classify(payload, ctx)).toEqual(classify(payload, ctx));
      }),
      runs(500),
    );
  });

  it('latest wins: once a document is accepted, the same bytes again never are (a refresh at most), nor once a newer version is held', () => {
    fc.assert(
      fc.property(payloadArb, ctxArb, (payload, ctx) => {
        const first = classify(payload, ctx);
        if (first.kind !== 'accept') return;
        const again = classify(payload, { ...ctx, highestVersion: first.doc.version });
        expect(['refresh', 'ignore']).toContain(again.kind);
        const later = classify(payload, { ...ctx, highestVersion: first.doc.version + 1 });
        expect(later.kind).toBe('ignore');
      }),
      runs(800),
    );
  });

  it('an accepted signed document stays accepted whatever JSON member order carries it, and stops verifying after any change to a signed field', () => {
    const signedDoc = docArb.map((d) => signDocument({ ...d, deviceId: DEVICE, expiresAt: new Date(NOW + 3_600_000).toISOString() }, [TRUSTED.signer]));
    const ctx: InboxContext = { deviceId: DEVICE, highestVersion: null, maxBytes: 256 * 1024, policy, signatures: { mode: 'required', trusted: [TRUSTED.trusted], nowMs: NOW } };
    fc.assert(
      fc.property(signedDoc, fc.nat(), (doc, seed) => {
        const verdict = classify(Buffer.from(JSON.stringify(doc)), ctx);
        fc.pre(verdict.kind === 'accept');
        const reversed = Object.fromEntries(Object.entries(doc).reverse());
        expect(classify(Buffer.from(JSON.stringify(reversed)), ctx).kind).toBe('accept');
        // One change to a field the signature covers (not `signature` itself).
        const { signature, ...signedPart } = doc;
        const changed = applyMutation(asJson(signedPart), { at: seed, kind: 'add-key', replacement: 'x', key: 'zz-unsigned-extra', number: 0 });
        const forged = { ...(changed as Record<string, unknown>), signature };
        const check = verifyDocument(forged, [TRUSTED.trusted], NOW);
        const sameCanonical = JSON.stringify(changed) === JSON.stringify(signedPart);
        if (!sameCanonical) expect(check.ok).toBe(false);
        if (!check.ok) expect(classify(Buffer.from(JSON.stringify(forged)), ctx).kind).not.toBe('accept');
      }),
      { ...runs(300), maxSkipsPerRun: 1000 },
    );
  });
});
