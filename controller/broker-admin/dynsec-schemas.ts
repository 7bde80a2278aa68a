import { z } from 'zod';

/**
 * Mosquitto dynamic-security plugin, API version 1 (mosquitto 2.0): commands
 * are published as `{"commands":[…]}` on `$CONTROL/dynamic-security/v1`; the
 * plugin answers every command of one message in one message on
 * `…/v1/response`, each echoing its `correlationData`. Only the fields
 * Outpost reads are declared; the rest passes through unchecked.
 */
export const DYNSEC_TOPIC = '$CONTROL/dynamic-security/v1';
export const DYNSEC_RESPONSE_TOPIC = '$CONTROL/dynamic-security/v1/response';

export const DynsecAclType = z.enum([
  'publishClientSend',
  'publishClientReceive',
  'subscribeLiteral',
  'subscribePattern',
  'unsubscribeLiteral',
  'unsubscribePattern',
]);
export type DynsecAclType = z.infer<typeof DynsecAclType>;

export const DynsecAcl = z.object({ acltype: DynsecAclType, topic: z.string().min(1), allow: z.boolean(), priority: z.number().int().optional() });
export type DynsecAcl = z.infer<typeof DynsecAcl>;

/** A command as sent; `correlationData` is added by the client. */
export type DynsecCommand =
  | { command: 'createClient'; username: string; clientid?: string; password?: string; textname?: string; roles?: { rolename: string; priority?: number }[] }
  | { command: 'deleteClient'; username: string }
  | { command: 'setClientPassword'; username: string; password: string }
  | { command: 'setClientId'; username: string; clientid?: string }
  | { command: 'addClientRole'; username: string; rolename: string; priority?: number }
  | { command: 'getClient'; username: string }
  | { command: 'listClients'; verbose: boolean; count?: number; offset?: number }
  | { command: 'listRoles'; verbose: boolean; count?: number; offset?: number }
  | { command: 'createRole'; rolename: string; textname?: string; acls?: DynsecAcl[] }
  | { command: 'deleteRole'; rolename: string }
  | { command: 'addRoleACL'; rolename: string; acltype: DynsecAclType; topic: string; allow: boolean; priority?: number }
  | { command: 'removeRoleACL'; rolename: string; acltype: DynsecAclType; topic: string }
  | { command: 'setDefaultACLAccess'; acls: { acltype: 'publishClientSend' | 'publishClientReceive' | 'subscribe' | 'unsubscribe'; allow: boolean }[] };

export const DynsecResponse = z.object({
  command: z.string(),
  error: z.string().optional(),
  data: z.unknown().optional(),
  correlationData: z.string().optional(),
});
export type DynsecResponse = z.infer<typeof DynsecResponse>;

export const DynsecResponseMessage = z.object({ responses: z.array(DynsecResponse) });

/** `listClients` with `verbose: true`. */
export const DynsecClientList = z.object({
  totalCount: z.number().int(),
  clients: z.array(
    z.object({
      username: z.string(),
      clientid: z.string().optional(),
      roles: z.array(z.object({ rolename: z.string() })).default([]),
    }),
  ),
});
export type DynsecClientList = z.infer<typeof DynsecClientList>;

/** Errors that mean "already as wanted" for an idempotent step. */
export const DYNSEC_ALREADY = {
  clientExists: 'Client already exists',
  roleExists: 'Role already exists',
  clientNotFound: 'Client not found',
  roleNotFound: 'Role not found',
  aclExists: 'ACL with this topic already exists',
} as const;

/** `listRoles` with `verbose: true`: each role with its ACLs (an ACL type Outpost does not know passes as a string). */
export const DynsecRoleListVerbose = z.object({
  totalCount: z.number().int(),
  roles: z.array(
    z.object({
      rolename: z.string(),
      acls: z.array(z.object({ acltype: z.string(), topic: z.string(), allow: z.boolean() })).default([]),
    }),
  ),
});

/** `getClient`. */
export const DynsecClientInfo = z.object({
  client: z.object({ username: z.string(), clientid: z.string().optional(), roles: z.array(z.object({ rolename: z.string() })).default([]) }),
});
