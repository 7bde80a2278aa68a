import type { Redis } from 'ioredis';
import type { Keys } from '../registry/keys.js';
import { BrokerAdminError } from './broker-admin-error.js';
import type { DynsecClient } from './dynsec-client.js';
import { DynsecClientList, DynsecRoleListVerbose } from './dynsec-schemas.js';
import type { PendingSecrets } from './pending-secrets.js';
import { aclKey, type DynsecObserved, type RegistryCredentials } from './plan-dynsec-repair.js';

/** Clients and roles listed per page: one answer stays small. */
const PAGE = 1000;
/** Roles with their ACLs per page (a device role has 16 ACLs, ~1.5 KB of JSON). */
const ROLE_PAGE = 200;
/** Registry keys read per MGET. */
const CHUNK = 1000;

/** Every dynsec client (with its roles) and role (with its ACLs), page by page; answers checked with zod. */
export async function observeDynsec(client: DynsecClient): Promise<DynsecObserved> {
  const clients: { username: string; roles: string[] }[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const r = await client.one({ command: 'listClients', verbose: true, count: PAGE, offset });
    const page = DynsecClientList.safeParse(r.data);
    if (!page.success) throw new BrokerAdminError('BROKER_ADMIN_BAD_RESPONSE', `listClients: ${page.error.message.slice(0, 300)}`);
    clients.push(...page.data.clients.map((c) => ({ username: c.username, roles: c.roles.map((x) => x.rolename) })));
    if (page.data.clients.length < PAGE || offset + PAGE >= page.data.totalCount) break;
  }
  const roles: string[] = [];
  const roleAcls = new Map<string, string[]>();
  for (let offset = 0; ; offset += ROLE_PAGE) {
    const r = await client.one({ command: 'listRoles', verbose: true, count: ROLE_PAGE, offset });
    const page = DynsecRoleListVerbose.safeParse(r.data);
    if (!page.success) throw new BrokerAdminError('BROKER_ADMIN_BAD_RESPONSE', `listRoles: ${page.error.message.slice(0, 300)}`);
    for (const role of page.data.roles) {
      roles.push(role.rolename);
      roleAcls.set(role.rolename, role.acls.map(aclKey));
    }
    if (page.data.roles.length < ROLE_PAGE || offset + ROLE_PAGE >= page.data.totalCount) break;
  }
  return { clients, roles, roleAcls };
}

/** Enrolled devices that hold a credential record, and the secrets still pending. */
export async function readRegistryCredentials(redis: Redis, keys: Keys, pending: PendingSecrets): Promise<RegistryCredentials> {
  const ids = await redis.smembers(keys.devices());
  const pendingIds = await pending.ids();
  // A device mid-decommission has left the index only at the end; a pending id with no device is read too.
  const all = [...new Set([...ids, ...pendingIds])];
  const entitled = new Set<string>();
  for (let i = 0; i < all.length; i += CHUNK) {
    const chunk = all.slice(i, i + CHUNK);
    const records = await redis.mget(...chunk.map((id) => keys.credential(id)));
    chunk.forEach((id, k) => {
      if (typeof records[k] === 'string') entitled.add(id);
    });
  }
  return { entitled, pending: await pending.many(pendingIds) };
}
