import { z } from 'zod';

/** Every message carries the protocol version; v1 is the only one so far. */
export const PROTOCOL_VERSION = 1 as const;
export const ProtocolVersion = z.literal(PROTOCOL_VERSION).describe('Protocol version, always 1 in protocol v1');

/** RFC 3339 timestamp with offset (UTC `Z` recommended). */
export const Timestamp = z.iso.datetime({ offset: true }).describe('RFC 3339 date-time, e.g. 2026-11-23T19:33:02.000Z');

/** Per-device desired-state version: a positive safe integer that only increases. */
export const StateVersion = z
  .number()
  .int()
  .min(1)
  .max(Number.MAX_SAFE_INTEGER)
  .describe('Per-device desired-state version: integer >= 1 that only increases, never reset');

export const ErrorCodeString = z
  .string()
  .regex(/^[A-Z][A-Z0-9_]{1,63}$/)
  .describe('Stable error code from the catalogue in docs/protocol.md');
