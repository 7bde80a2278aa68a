import type { EventEmitter } from 'node:events';
import type { Aedes, Client } from 'aedes';
import { errorMessage, isOutpostError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { IdentityRegistry } from './auth/identity.js';
import { clip, identityFields } from './auth/log-fields.js';

export interface BrokerEventDeps {
  identities: IdentityRegistry;
  logger: Logger;
  remoteOf: (conn: unknown) => string | undefined;
}

/** Errors that are the normal ways a connection ends; not worth a warning. */
const ROUTINE_ERRORS = [
  /keep ?alive timeout/i,
  /ECONNRESET|EPIPE|ETIMEDOUT/,
  /connection closed/i,
  /premature close/i,
  /write after end/i,
  /aborted/i,
];

function isRoutine(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  const text = `${typeof code === 'string' ? code : ''} ${err.message}`;
  return ROUTINE_ERRORS.some((re) => re.test(text));
}

/**
 * Structured logs for aedes's lifecycle events: connects and disconnects at
 * debug, unexpected client errors at warn, broker errors at error; nothing
 * per packet. Also the 'error' listener without which an aedes persistence
 * failure would crash the process.
 */
export function logBrokerEvents(aedes: Aedes, deps: BrokerEventDeps): void {
  const { identities, logger, remoteOf } = deps;
  const fields = (client: Client): Record<string, unknown> => ({
    ...identityFields(identities.get(client)),
    clientId: clip(client.id),
    remote: remoteOf(client.conn),
  });

  // Not in aedes's typed events, but emitted for persistence failures.
  const emitter: EventEmitter = aedes;
  emitter.on('error', (err: unknown) => logger.error({ err: errorMessage(err) }, 'broker error'));
  // The fields are built only when debug is on: these fire for every device in a reconnect storm.
  const debug = (msg: string, extra: (client: Client) => Record<string, unknown> = () => ({})) => (client: Client) => {
    if (logger.isLevelEnabled('debug')) logger.debug({ ...fields(client), ...extra(client) }, msg);
  };
  aedes.on('clientReady', debug('client connected', (client) => ({ clean: client.clean })));
  aedes.on('clientDisconnect', debug('client disconnected'));
  aedes.on('keepaliveTimeout', debug('client keepalive timeout'));

  const onClientError = (kind: string) => (client: Client, err: Error) => {
    // Our own refusals (auth, topics, sizes) were logged where they were decided.
    const level = isOutpostError(err) || isRoutine(err) ? 'debug' : 'warn';
    logger[level]({ ...fields(client), code: isOutpostError(err) ? err.code : undefined, err: errorMessage(err) }, kind);
  };
  aedes.on('clientError', onClientError('client error'));
  aedes.on('connectionError', onClientError('connection error'));
}
