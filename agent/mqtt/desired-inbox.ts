import { decodeJson } from '../../shared/decode.js';
import type { ErrorCode } from '../../shared/errors.js';
import { verifyDocument } from '../../shared/desired-signature.js';
import { DesiredState, type TrustedKey } from '../../shared/schemas/desired-state.js';
import { PROTOCOL_VERSION } from '../../shared/schemas/common.js';
import { checkPolicy, type AgentPolicy } from '../reconcile/policy.js';

export type InboxVerdict =
  | { kind: 'accept'; doc: DesiredState }
  /**
   * The version already held, valid for this device: only its in-memory
   * parts (credentials, DD-019) and its signature metadata (a later expiry,
   * announced keys, DD-026) are taken; nothing is applied again.
   */
  | { kind: 'refresh'; version: number; registryAuth: DesiredState['registryAuth']; expiresAt: string | null; trust: TrustedKey[] | null }
  | { kind: 'ignore'; version: number | null; reason: string; code?: ErrorCode }
  | { kind: 'reject'; code: ErrorCode; reason: string; version: number | null };

export interface InboxContext {
  deviceId: string;
  /** Highest valid version already accepted (persisted), or null. */
  highestVersion: number | null;
  maxBytes: number;
  policy: AgentPolicy;
  /**
   * DD-026: `required` checks every document's signature against the keys
   * the device trusts and its expiry; `off` accepts unsigned documents
   * (unsigned fleets, only when the device is configured so).
   */
  signatures: { mode: 'required'; trusted: readonly TrustedKey[]; nowMs: number } | { mode: 'off' };
}

/**
 * Classify one desired payload (DD-001 latest wins). Pure: the caller
 * persists accepted documents, reports rejections and keeps refreshed
 * credentials.
 *
 * Queued QoS 1 messages arrive out of order, duplicated and flagged retained
 * (pitfalls.md), so anything not newer than what we hold is ignored, even
 * when it is malformed: an old, broken message is history, not news.
 */
export function classifyDesired(payload: Buffer, ctx: InboxContext): InboxVerdict {
  if (payload.length === 0) {
    return { kind: 'ignore', version: null, reason: 'empty payload (retained desired state cleared)' };
  }
  const decoded = decodeJson(payload, DesiredState, ctx.maxBytes, {
    tooLarge: 'DESIRED_TOO_LARGE',
    invalidJson: 'DESIRED_INVALID_JSON',
    schema: 'DESIRED_SCHEMA',
  });
  if (!decoded.ok) {
    const version = rawVersion(decoded.raw);
    if (version !== null && ctx.highestVersion !== null && version <= ctx.highestVersion) {
      return { kind: 'ignore', version, reason: `invalid and not newer than ${ctx.highestVersion}` };
    }
    const raw = decoded.raw as Record<string, unknown> | undefined;
    if (raw && typeof raw === 'object' && 'protocol' in raw && raw.protocol !== PROTOCOL_VERSION) {
      return {
        kind: 'reject',
        code: 'DESIRED_PROTOCOL',
        reason: `protocol ${JSON.stringify(raw.protocol)} is not supported (this agent speaks ${PROTOCOL_VERSION})`,
        version,
      };
    }
    return { kind: 'reject', code: decoded.code, reason: decoded.reason, version };
  }
  const doc = decoded.value;
  if (doc.deviceId !== ctx.deviceId) {
    return {
      kind: 'reject',
      code: 'DESIRED_WRONG_DEVICE',
      reason: `document is for device ${doc.deviceId}, this is ${ctx.deviceId}`,
      version: doc.version,
    };
  }
  if (ctx.highestVersion !== null && doc.version < ctx.highestVersion) {
    // A replay, or a queued duplicate (pitfalls.md): never applied.
    return { kind: 'ignore', version: doc.version, reason: `older than ${ctx.highestVersion}`, code: 'DESIRED_OUTDATED' };
  }
  // Checked before anything the document says is used: a forged document
  // (e.g. with a huge version to freeze the device) changes nothing.
  const signature = ctx.signatures.mode === 'required' ? verifyDocument(decoded.raw, ctx.signatures.trusted, ctx.signatures.nowMs) : null;
  const policyViolation = checkPolicy(doc, ctx.policy);
  if (ctx.highestVersion !== null && doc.version === ctx.highestVersion) {
    // The retained copy of what we hold, re-delivered on every connect: the
    // credentials that never reach the disk come back with it (DD-019), and
    // a re-signed copy brings a later expiry and announced keys (DD-026).
    if (signature && !signature.ok) return { kind: 'ignore', version: doc.version, reason: `duplicate, and ${signature.reason}`, code: signature.code };
    if (policyViolation) return { kind: 'ignore', version: doc.version, reason: 'duplicate' };
    const verified = signature?.ok === true;
    return {
      kind: 'refresh',
      version: doc.version,
      registryAuth: doc.registryAuth,
      expiresAt: verified ? (doc.expiresAt ?? null) : null,
      trust: verified && doc.trust ? doc.trust.keys : null,
    };
  }
  if (signature && !signature.ok) return { kind: 'reject', code: signature.code, reason: signature.reason, version: doc.version };
  if (policyViolation) return { kind: 'reject', code: 'DESIRED_POLICY', reason: policyViolation, version: doc.version };
  return { kind: 'accept', doc };
}

function rawVersion(raw: unknown): number | null {
  if (raw && typeof raw === 'object' && 'version' in raw) {
    const v = (raw as { version: unknown }).version;
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 1) return v;
  }
  return null;
}
