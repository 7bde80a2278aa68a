import type { FastifyInstance } from 'fastify';
import { errorMessage } from '../../shared/errors.js';
import { auditEntryOf } from '../access/audit-entry.js';
import type { AuditLog } from '../access/audit-log.js';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Request ids and the audit log (DD-025). Every answer carries its request id
 * in `x-request-id` (also `reqId` in the controller log). Every mutating call
 * made with a valid token — allowed or refused, succeeded or failed — is
 * appended to the audit log before its answer is sent, so a client that got
 * an answer finds the entry. Calls without a valid token are not recorded:
 * anyone could otherwise push the real entries out of the bounded log.
 *
 * A failed audit write does not fail the call: the change is already made
 * and the answer must say so. The entry then goes to the controller log at
 * error level instead.
 */
export function installAudit(app: FastifyInstance, opts: { audit: Pick<AuditLog, 'append'>; now: () => number }): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onSend', async (request, reply, payload) => {
    if (!MUTATING.has(request.method) || request.principal === null) return payload;
    const entry = auditEntryOf({
      principal: request.principal,
      at: new Date(opts.now()),
      requestId: request.id,
      method: request.method,
      route: request.routeOptions.url ?? null,
      url: request.url,
      params: request.params,
      statusCode: reply.statusCode,
      payload,
      body: request.body,
      durationMs: reply.elapsedTime,
    });
    try {
      await opts.audit.append(entry);
    } catch (err) {
      request.log.error({ err: errorMessage(err), audit: entry }, 'audit entry not written');
    }
    return payload;
  });
}
