import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { ERROR_CATALOGUE, errorMessage, isOutpostError, OutpostError, type ErrorCode } from '../../shared/errors.js';

/**
 * The catalogue is part of the protocol (codes travel in reports and events).
 * Written out by hand on purpose: renaming, removing or adding a code, or
 * flipping retryable, must fail here and be a deliberate protocol change
 * (update docs/protocol.md, "Error codes", too).
 */
const PINNED: Record<ErrorCode, boolean> = {
  DESIRED_INVALID_JSON: false,
  DESIRED_SCHEMA: false,
  DESIRED_WRONG_DEVICE: false,
  DESIRED_TOO_LARGE: false,
  DESIRED_POLICY: false,
  DESIRED_PROTOCOL: false,
  DESIRED_UNSIGNED: false,
  DESIRED_SIGNATURE: false,
  DESIRED_EXPIRED: false,
  DESIRED_OUTDATED: false,
  IMAGE_PULL_FAILED: true,
  IMAGE_NOT_FOUND: true,
  REGISTRY_AUTH: true,
  IMAGE_STORAGE_FULL: true,
  CONTAINER_CREATE_FAILED: true,
  CONTAINER_START_FAILED: true,
  CONTAINER_STOP_FAILED: true,
  CONTAINER_REMOVE_FAILED: true,
  RUNTIME_UNAVAILABLE: true,
  RECONCILE_ABORTED: true,
  RECONCILE_STUCK: true,
  STATE_WRITE_FAILED: true,
  MQTT_PUBLISH_FAILED: true,
  UPDATE_UNHEALTHY: false,
  HANDOVER_PORT_CONFLICT: false,
  CONTAINER_CREATE_REFUSED: false,
  COMMAND_INVALID: false,
  COMMAND_EXPIRED: false,
  WORKLOAD_NOT_FOUND: false,
  AUTH_BAD_CREDENTIALS: false,
  AUTH_CLIENT_ID_MISMATCH: false,
  AUTH_CERT_INVALID: false,
  AUTH_CERT_MISMATCH: false,
  AUTH_FORBIDDEN_TOPIC: false,
  PAYLOAD_TOO_LARGE: false,
  QOS_NOT_ALLOWED: false,
  CLIENT_TOO_SLOW: true,
  CONFIG_INVALID: false,
};

describe('error catalogue', () => {
  it('is pinned: code → retryable', () => {
    const actual = Object.fromEntries(Object.entries(ERROR_CATALOGUE).map(([code, entry]) => [code, entry.retryable]));
    expect(actual).toEqual(PINNED);
  });

  it('is documented in docs/protocol.md with the same retryability', () => {
    const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
    const rows = Object.fromEntries(
      [...doc.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \| (retryable|terminal) \|/gm)].map((m) => [m[1], m[2] === 'retryable']),
    );
    expect(rows).toEqual(PINNED);
  });

  it('every code fits the wire grammar and has a summary', () => {
    for (const [code, entry] of Object.entries(ERROR_CATALOGUE)) {
      expect(code).toMatch(/^[A-Z][A-Z0-9_]{1,63}$/);
      expect(entry.summary.length).toBeGreaterThan(10);
    }
  });
});

describe('OutpostError', () => {
  it('keeps code, retryable, details and cause', () => {
    const cause = new Error('ECONNREFUSED');
    const err = new OutpostError('RUNTIME_UNAVAILABLE', 'docker is down', { cause, details: { socket: '/var/run/docker.sock' } });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('OutpostError');
    expect(err.message).toBe('docker is down');
    expect(err.code).toBe('RUNTIME_UNAVAILABLE');
    expect(err.retryable).toBe(true);
    expect(err.cause).toBe(cause);
    expect(err.details).toEqual({ socket: '/var/run/docker.sock' });
    expect(isOutpostError(err)).toBe(true);
  });

  it('takes retryable from the catalogue', () => {
    expect(new OutpostError('DESIRED_SCHEMA', 'x').retryable).toBe(false);
    expect(new OutpostError('IMAGE_NOT_FOUND', 'x').retryable).toBe(true);
  });

  it('keeps non-Error causes and has no cause when none was given', () => {
    expect(new OutpostError('CONFIG_INVALID', 'x', { cause: 'text' }).cause).toBe('text');
    const bare = new OutpostError('CONFIG_INVALID', 'x');
    expect('cause' in bare).toBe(false);
    expect(bare.details).toBeUndefined();
  });

  it('isOutpostError is false for other values', () => {
    expect(isOutpostError(new Error('x'))).toBe(false);
    expect(isOutpostError({ code: 'CONFIG_INVALID' })).toBe(false);
    expect(isOutpostError(undefined)).toBe(false);
  });
});

describe('errorMessage', () => {
  it('handles anything thrown', () => {
    expect(errorMessage(new Error('boom'))).toBe('boom');
    expect(errorMessage('plain')).toBe('plain');
    expect(errorMessage({ a: 1 })).toBe('{"a":1}');
    expect(errorMessage(42)).toBe('42');
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(errorMessage(circular)).toBe('[object Object]');
  });
});
