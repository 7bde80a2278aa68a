import { z } from 'zod';
import { DeviceId } from '../../shared/device-id.js';
import { Timestamp } from '../../shared/schemas/common.js';

/** Request and response bodies of the device certificate route (DD-027; apart from schemas.ts only for size). */

/** Largest PEM certificate request accepted: an RSA-4096 request with a long subject is about 2 KB. */
const MAX_CSR_CHARS = 16 * 1024;

export const IssueCertificateBody = z.strictObject({
  csr: z
    .string()
    .max(MAX_CSR_CHARS)
    .regex(/-----BEGIN (NEW )?CERTIFICATE REQUEST-----/, 'csr must be a PEM certificate request (-----BEGIN CERTIFICATE REQUEST-----)')
    .optional()
    .describe('A PEM PKCS#10 request made on the device (EC P-256/P-384 or RSA ≥ 2048 bits). Its key stays on the device; only the public key is used, the subject is always the device id. Without it a key is generated and returned once'),
  validityDays: z.number().int().min(1).max(3650).optional().describe('Days the certificate is valid (default 825); never beyond the CA’s own expiry'),
});

export const IssuedDeviceCertificate = z
  .strictObject({
    deviceId: DeviceId,
    certificate: z.string().describe('PEM: the certificate (CN and DNS SAN = device id, extendedKeyUsage clientAuth), then any intermediate CA certificates: the agent’s --cert'),
    key: z.string().nullable().describe('PEM PKCS#8 private key, in this answer only (the controller keeps no copy): the agent’s --key. null when a csr was given'),
    ca: z.string().describe('PEM: the CA that signed it; with `outpost up` also the CA of the broker’s certificate: the agent’s --ca'),
    serialNumber: z.string().describe('Hexadecimal serial number'),
    notBefore: Timestamp,
    notAfter: Timestamp,
  })
  .describe('A device certificate signed by the control plane’s CA');
