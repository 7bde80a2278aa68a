import type { Topics } from '../../shared/topics.js';
import type { DynsecClient } from './dynsec-client.js';
import { denyByDefault, SERVICE_ROLE, serviceAcls } from './dynsec-acl.js';
import { DYNSEC_ALREADY, DynsecClientInfo } from './dynsec-schemas.js';

/**
 * Mosquitto 2.0.11's answer to addClientRole for a role the client has
 * already: its "already exists" status is reported as a generic error.
 */
export const ALREADY_IN_ROLE = 'Internal error';

/**
 * What every Outpost fleet on Mosquitto needs before any device: access
 * denied by default, and the service identity with its own role (protocol
 * §5: anything below the prefix). Idempotent. The service password is set
 * only when the client is created: setting it again would disconnect every
 * controller connected with it; an operator changes it with
 * `mosquitto_ctrl dynsec setClientPassword`.
 */
export async function bootstrapDynsec(client: DynsecClient, topics: Topics, service: { username: string; password: string }): Promise<void> {
  await client.one(denyByDefault());
  await client.one({ command: 'createRole', rolename: SERVICE_ROLE, acls: serviceAcls(topics) }, [DYNSEC_ALREADY.roleExists]);
  const created = await client.one(
    { command: 'createClient', username: service.username, password: service.password, roles: [{ rolename: SERVICE_ROLE }] },
    [DYNSEC_ALREADY.clientExists],
  );
  if (created.error === DYNSEC_ALREADY.clientExists) {
    const info = DynsecClientInfo.safeParse((await client.one({ command: 'getClient', username: service.username })).data);
    const has = info.success && info.data.client.roles.some((r) => r.rolename === SERVICE_ROLE);
    if (!has) await client.one({ command: 'addClientRole', username: service.username, rolename: SERVICE_ROLE }, [ALREADY_IN_ROLE]);
  }
}
