import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import * as S from '../schemas.js';
import type { RouteDeps } from './route-deps.js';

const tags = ['commands'];

/** Commands to one device (restart, logs, ping, resync) and its telemetry. */
export const commandRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { controlPlane: cp }) => {
  app.post(
    '/devices/:id/commands',
    {
      config: { access: 'operator' },
      schema: {
        tags,
        operationId: 'sendCommand',
        summary: 'Send a command to a device',
        description:
          'Publishes the command (QoS 1, not retained) on the device commands topic. When the device is online the API waits up to ' +
          'waitSeconds for its answer: 200 with status done (or expired, rejected) and the result. Otherwise 202 with status queued: ' +
          "the broker keeps the command in the device's session until it reconnects, and the device drops it unexecuted after expiresAt.",
        params: S.DeviceParams,
        body: S.SendCommandBody,
        querystring: S.NoQuery,
        response: {
          200: S.CommandView.describe('The device answered in time'),
          202: S.CommandView.describe('Queued: the device is offline or has not answered yet'),
          ...S.errorResponses(403, 400, 404, 503),
        },
      },
    },
    async (request, reply) => {
      const { view, answered } = await cp.sendCommand(request.params.id, request.body);
      return reply.code(answered ? 200 : 202).send(view);
    },
  );

  app.get(
    '/devices/:id/commands/:commandId',
    {
      config: { access: 'viewer' },
      schema: {
        tags,
        operationId: 'getCommand',
        summary: 'A command sent to a device and its answer',
        params: S.CommandParams,
        querystring: S.NoQuery,
        response: { 200: S.CommandView.describe('The command'), ...S.errorResponses(400, 404) },
      },
    },
    async (request) => cp.commandOf(request.params.id, request.params.commandId),
  );

  app.get(
    '/devices/:id/telemetry',
    {
      config: { access: 'viewer' },
      schema: {
        tags,
        operationId: 'getDeviceTelemetry',
        summary: 'The latest telemetry sample of a device',
        description: 'CPU, memory, disk, uptime, containers with restart counts, MQTT bytes. Agents send a sample every --telemetry-interval seconds (default 300); a delta sample is shown merged onto the last full one.',
        params: S.DeviceParams,
        querystring: S.NoQuery,
        response: { 200: S.TelemetryEnvelope, ...S.errorResponses(400, 404) },
      },
    },
    async (request) => ({ telemetry: await cp.telemetryOf(request.params.id) }),
  );
};
