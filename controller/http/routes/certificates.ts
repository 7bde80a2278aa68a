import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import * as C from '../certificate-schemas.js';
import * as S from '../schemas.js';
import type { RouteDeps } from './route-deps.js';

const tags = ['devices'];

/** Device certificates signed by the control plane's CA (DD-027); admin only, like every device credential (DD-025). */
export const certificateRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { controlPlane: cp }) => {
  app.post(
    '/devices/:id/certificate',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        operationId: 'issueDeviceCertificate',
        summary: 'Issue a device certificate',
        description:
          'Signs a client certificate naming the device (CN and DNS SAN = its id) with the control plane’s CA, the CA the broker takes device certificates from. ' +
          'Without a `csr` a new ECDSA P-256 key is generated and is in this answer only. The device must be enrolled: the broker accepts a certificate only ' +
          'for a device with a credential, so `outpost device rm` locks it out. Each call issues a new certificate; earlier ones stay valid until they expire. ' +
          'A controller without a device CA answers 409 DEVICE_CA_NOT_CONFIGURED.',
        params: S.DeviceParams,
        body: C.IssueCertificateBody,
        querystring: S.NoQuery,
        response: { 201: C.IssuedDeviceCertificate, ...S.errorResponses(403, 400, 404, 409) },
      },
    },
    async (request, reply) => reply.code(201).send(await cp.issueDeviceCertificate(request.params.id, request.body)),
  );
};
