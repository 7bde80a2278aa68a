import { decodeJson } from '../../shared/decode.js';
import type { ErrorCode } from '../../shared/errors.js';
import { DesiredState } from '../../shared/schemas/desired-state.js';
import { PROTOCOL_VERSION } from '../../shared/schemas/common.js';
import { checkPolicy, type AgentPolicy } from '../reconcile/policy.js';

export type InboxVerdict =
  | { kind: 'accept'; doc: DesiredState }
  /** The version already held, valid for this device: only its in-memory parts (credentials) are taken (DD-019). */
  | { kind: 'refresh'; version: number; registryAuth: DesiredState['registryAuth'] }
  | { kind: 'ignore'; version: number | null; reason: string }
  | { kind: 'reject'; code: ErrorCode; reason: string; version: number | null };

export interface InboxContext {
  deviceId: string;
  /** Highest valid version already accepted (persisted), or null. */
  highestVersion: number | null;
  maxBytes: number;
  policy: AgentPolicy;
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
    return { kind: 'ignore', version: doc.version, reason: `older than ${ctx.highestVersion}` };
  }
  const policyViolation = checkPolicy(doc, ctx.policy);
  if (ctx.highestVersion !== null && doc.version === ctx.highestVersion) {
    // The retained copy of what we hold, re-delivered on every connect: the
    // credentials that never reach the disk come back with it (DD-019).
    if (policyViolation) return { kind: 'ignore', version: doc.version, reason: 'duplicate' };
    return { kind: 'refresh', version: doc.version, registryAuth: doc.registryAuth };
  }
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
