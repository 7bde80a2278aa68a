import { z } from 'zod';
import { RegistryCredentialView, RegistryHost, RegistryPassword, RegistryUsername } from '../registry-auth/registry-credential-store.js';
import { Delivery } from './schemas.js';

/** Request and response bodies of /v1/registry-credentials (DD-041). No response carries a password, sealed or not. */
export const RegistryCredential = RegistryCredentialView.describe('Stored credentials of one registry, without the password').meta({ id: 'RegistryCredential' });

export const RegistryCredentialParams = z.strictObject({
  host: RegistryHost.describe('The registry as written in image references: host[:port]; docker.io for Docker Hub'),
});

export const PutRegistryCredentialBody = z.strictObject({
  username: RegistryUsername,
  password: RegistryPassword.describe('Sealed (AES-256-GCM) before it is stored; never returned, logged or audited'),
});

export const RegistryCredentialChange = z
  .strictObject({
    credential: RegistryCredential,
    created: z.boolean().optional().describe('PUT: true when the host had no credentials before'),
    delivery: Delivery.describe('The desired documents of the devices whose images come from the host, re-published'),
  })
  .describe('The stored credentials (without the password) and the re-published documents');

export const RegistryCredentialList = z.strictObject({ credentials: z.array(RegistryCredential) }).describe('Stored registry credentials by host, never the passwords');
