import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import * as S from '../schemas.js';
import type { RouteDeps } from './route-deps.js';

const tags = ['signing'];

/** The desired-document signing keys (DD-026): the trust file devices are enrolled with, and key rotation. */
export const signingRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { controlPlane: cp }) => {
  app.get(
    '/signing-keys',
    {
      config: { access: 'viewer' as const },
      schema: {
        tags,
        operationId: 'getSigningKeys',
        summary: 'The public keys desired documents are signed with',
        description: 'An agent is enrolled with these (its --trust file). During a rotation `next` is set and documents carry a signature by each key.',
        querystring: S.NoQuery,
        response: { 200: S.SigningKeys, ...S.errorResponses() },
      },
    },
    async () => cp.signingKeys(),
  );

  for (const step of ['rotate', 'finish'] as const) {
    app.post(
      `/signing-keys/${step}`,
      {
        config: { access: 'admin' as const },
        schema: {
          tags,
          operationId: step === 'rotate' ? 'rotateSigningKey' : 'finishSigningKeyRotation',
          summary: step === 'rotate' ? 'Start a signing key rotation' : 'Finish a signing key rotation',
          description:
            step === 'rotate'
              ? 'Generates the next key (idempotent while a rotation is under way). Every device document is re-signed by both keys and announces both as trusted, so devices learn the new key without re-enrolment.'
              : 'The next key becomes the only one; every device document is re-signed by it. A device that heard nothing during the rotation must be given the new trust file. Without a rotation under way, nothing changes.',
          querystring: S.NoQuery,
          response: { 200: S.SigningKeysChanged, ...S.errorResponses(403) },
        },
      },
      async () => (step === 'rotate' ? cp.rotateSigningKey() : cp.finishSigningKeyRotation()),
    );
  }
};
