import { z } from 'zod';
import type { ApiClient } from './api-client.js';

export const IssuedCertificateBody = z.looseObject({
  deviceId: z.string(),
  certificate: z.string(),
  key: z.string().nullable(),
  ca: z.string(),
  serialNumber: z.string(),
  notBefore: z.string(),
  notAfter: z.string(),
});
export type IssuedCertificateBody = z.infer<typeof IssuedCertificateBody>;

/**
 * A device certificate from the control plane's CA (DD-027). Retried like a
 * read: a repeat after a lost answer issues another certificate, and the
 * lost one (and its key, never stored) is of no use to anyone.
 */
export async function issueDeviceCertificate(client: ApiClient, id: string, input: { csr?: string; validityDays?: number }): Promise<IssuedCertificateBody> {
  const path = `/v1/devices/${encodeURIComponent(id)}/certificate`;
  return (await client.request('POST', path, IssuedCertificateBody, { body: input, idempotent: true })).body;
}
