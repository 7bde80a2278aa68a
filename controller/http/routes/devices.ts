import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import * as S from '../schemas.js';
import type { RouteDeps } from './route-deps.js';

const tags = ['devices'];

/** Devices: enrollment, labels, overrides, pins, desired and reported state, events. */
export const deviceRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { controlPlane: cp }) => {
  app.post(
    '/devices',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        operationId: 'createDevice',
        summary: 'Enroll a device',
        description:
          'Creates the device and its MQTT credential in one atomic step. The secret is in this response only; the controller keeps a hash. ' +
          'With a client-generated `secret`, repeating the same request answers 200 with `created: false` instead of 409.',
        body: S.CreateDeviceBody,
        querystring: S.NoQuery,
        response: { 201: S.CreatedDevice, 200: S.CreatedDevice, ...S.errorResponses(403, 400, 409) },
      },
    },
    async (request, reply) => {
      const { device, secret, created, delivery } = await cp.addDevice(request.body);
      return reply.code(created ? 201 : 200).send({ device, secret, created, delivery });
    },
  );

  app.post(
    '/devices/:id/secret',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        operationId: 'rotateDeviceSecret',
        summary: 'Issue a new device secret and end sessions that use the old one',
        description:
          'The old secret stops working at once: Outpost brokers end the live session that authenticated with it. ' +
          'A client-generated `secret` makes a retry harmless. The new secret is in this response only.',
        params: S.DeviceParams,
        body: S.RotateSecretBody,
        querystring: S.NoQuery,
        response: { 200: S.RotatedSecret, ...S.errorResponses(403, 400, 404, 409) },
      },
    },
    async (request) => cp.rotateSecret(request.params.id, request.body),
  );

  app.get(
    '/devices',
    {
      config: { access: 'viewer' },
      schema: {
        tags,
        operationId: 'listDevices',
        summary: 'List devices, optionally filtered by a label selector',
        querystring: S.ListDevicesQuery,
        response: { 200: S.DeviceList, ...S.errorResponses(400) },
      },
    },
    async (request) => ({ devices: await cp.listDevices(request.query) }),
  );

  app.get(
    '/devices/:id',
    {
      config: { access: 'viewer' },
      schema: {
        tags,
        operationId: 'getDevice',
        summary: 'A device with overrides, composed apps, desired and reported state',
        params: S.DeviceParams,
        querystring: S.NoQuery,
        response: { 200: S.DeviceDetail.describe('The device'), ...S.errorResponses(400, 404) },
      },
    },
    async (request) => cp.getDevice(request.params.id),
  );

  app.delete(
    '/devices/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        operationId: 'deleteDevice',
        summary: 'Decommission a device',
        description:
          'Tombstones the device (nothing more is published for it), optionally wipes its workloads (`wipe=true`: an empty desired state, ' +
          "then a bounded wait for the device's confirmation), clears its retained topics, purges its broker session and queued messages, " +
          'revokes its credential and forgets it. 200 when done; 202 when a step failed and is being retried (the answer says which and why). ' +
          'Repeating the request is safe: it continues or reports the same decommission.',
        params: S.DeviceParams,
        querystring: S.DecommissionQuery,
        response: { 200: S.DecommissionEnvelope, 202: S.DecommissionEnvelope, ...S.errorResponses(403, 400, 404) },
      },
    },
    async (request, reply) => {
      const decommission = await cp.removeDevice(request.params.id, { wipe: request.query.wipe, wipeTimeoutSeconds: request.query.wipeTimeoutSeconds });
      return reply.code(decommission.state === 'done' ? 200 : 202).send({ decommission });
    },
  );

  app.patch(
    '/devices/:id/labels',
    {
      config: { access: 'operator' },
      schema: {
        tags,
        operationId: 'patchDeviceLabels',
        summary: 'Set and remove labels',
        description: 'Re-evaluates selector deployments for the device and publishes its desired state if it changed.',
        params: S.DeviceParams,
        body: S.LabelPatchBody,
        querystring: S.NoQuery,
        response: { 200: S.DeviceEnvelope, ...S.errorResponses(403, 400, 404) },
      },
    },
    async (request) => cp.updateLabels(request.params.id, request.body),
  );

  app.patch(
    '/devices/:id/overrides',
    {
      config: { access: 'operator' },
      schema: {
        tags,
        operationId: 'patchDeviceOverrides',
        summary: 'Change per-device env overrides',
        description: 'Overrides win over every deployment and survive later ones. A key set to null is removed.',
        params: S.DeviceParams,
        body: S.OverridePatchBody,
        querystring: S.NoQuery,
        response: { 200: S.DeviceEnvelope, ...S.errorResponses(403, 400, 404) },
      },
    },
    async (request) => cp.setOverrides(request.params.id, request.body),
  );

  app.put(
    '/devices/:id/pins/:app',
    {
      config: { access: 'operator' },
      schema: {
        tags,
        operationId: 'pinDeviceApp',
        summary: 'Pin an app to a release version on this device',
        params: S.PinParams,
        body: S.PinBody,
        querystring: S.NoQuery,
        response: { 200: S.DeviceEnvelope, ...S.errorResponses(403, 400, 404) },
      },
    },
    async (request) => cp.setPin(request.params.id, request.params.app, request.body.version),
  );

  app.delete(
    '/devices/:id/pins/:app',
    {
      config: { access: 'operator' },
      schema: {
        tags,
        operationId: 'unpinDeviceApp',
        summary: 'Remove a pin: the app follows deployments again',
        params: S.PinParams,
        querystring: S.NoQuery,
        response: { 200: S.DeviceEnvelope, ...S.errorResponses(403, 400, 404) },
      },
    },
    async (request) => cp.setPin(request.params.id, request.params.app, null),
  );

  app.get(
    '/devices/:id/desired',
    {
      config: { access: 'viewer' },
      schema: {
        tags,
        operationId: 'getDeviceDesired',
        summary: 'The last desired document published for the device',
        params: S.DeviceParams,
        querystring: S.NoQuery,
        response: { 200: S.DesiredEnvelope, ...S.errorResponses(400, 404) },
      },
    },
    async (request) => ({ desired: await cp.desiredOf(request.params.id) }),
  );

  app.get(
    '/devices/:id/reported',
    {
      config: { access: 'viewer' },
      schema: {
        tags,
        operationId: 'getDeviceReported',
        summary: 'What the device last reported, and its presence',
        params: S.DeviceParams,
        querystring: S.NoQuery,
        response: { 200: S.ReportedEnvelope, ...S.errorResponses(400, 404) },
      },
    },
    async (request) => {
      const { reported, presence, online, lastSeen } = await cp.statusOf(request.params.id);
      return { reported, presence, online, lastSeen };
    },
  );

  app.get(
    '/devices/:id/events',
    {
      config: { access: 'viewer' },
      schema: {
        tags,
        operationId: 'listDeviceEvents',
        summary: 'Recent events of the device, newest first',
        params: S.DeviceParams,
        querystring: S.EventsQuery,
        response: { 200: S.EventList, ...S.errorResponses(400, 404) },
      },
    },
    async (request) => ({ events: await cp.eventsOf(request.params.id, request.query.limit) }),
  );
};
