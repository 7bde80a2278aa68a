import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { DynsecCommand } from '../../controller/broker-admin/dynsec-schemas.js';

/**
 * The dynamic-security plugin's file with the effect of some commands
 * written into it while Mosquitto is stopped. Mosquitto 2.0 rewrites the
 * whole file after every command (plugins/dynamic-security: each create
 * handler calls dynsec__config_save), so enrolling N devices as commands
 * costs O(N²) bytes written: minutes at 2,000 devices, hours at 10,000,
 * batching or not. For a large benchmark fleet the same commands (those the
 * broker-admin code sends, unchanged) are applied here instead; the test
 * test/integration/storm-dynsec-file.test.ts holds the result to what the
 * plugin makes of the same commands.
 */
const Acl = z.object({ acltype: z.string(), topic: z.string().optional(), priority: z.number().optional(), allow: z.boolean() }).loose();
const DynsecFile = z
  .object({
    defaultACLAccess: z.record(z.string(), z.boolean()).optional(),
    clients: z.array(z.object({ username: z.string() }).loose()).default([]),
    groups: z.array(z.unknown()).default([]),
    roles: z.array(z.object({ rolename: z.string(), acls: z.array(Acl).optional() }).loose()).default([]),
  })
  .loose();
export type DynsecFile = z.infer<typeof DynsecFile>;

/** Mosquitto's password hash: PBKDF2-SHA512, 12 random salt bytes, 101 iterations, base64 (as `mosquitto_ctrl dynsec init` writes it). */
const ITERATIONS = 101;
function hashed(password: string): { password: string; salt: string; iterations: number } {
  const salt = randomBytes(12);
  return { password: pbkdf2Sync(password, salt, ITERATIONS, 64, 'sha512').toString('base64'), salt: salt.toString('base64'), iterations: ITERATIONS };
}

export function parseDynsecFile(text: string): DynsecFile {
  return DynsecFile.parse(JSON.parse(text));
}

/** Applies createRole, createClient and setDefaultACLAccess; anything else is refused (it would need the plugin's logic). */
export function applyDynsecCommands(file: DynsecFile, commands: readonly DynsecCommand[]): DynsecFile {
  const clients = new Map(file.clients.map((c) => [c.username, c]));
  const roles = new Map(file.roles.map((r) => [r.rolename, r]));
  const defaults = { ...file.defaultACLAccess };
  for (const c of commands) {
    switch (c.command) {
      case 'createRole':
        if (roles.has(c.rolename)) throw new Error(`role ${c.rolename} exists already`);
        roles.set(c.rolename, { rolename: c.rolename, ...(c.textname ? { textname: c.textname } : {}), acls: (c.acls ?? []).map((a) => ({ acltype: a.acltype, topic: a.topic, priority: a.priority ?? 0, allow: a.allow })) });
        break;
      case 'createClient':
        if (clients.has(c.username)) throw new Error(`client ${c.username} exists already`);
        for (const r of c.roles ?? []) if (!roles.has(r.rolename)) throw new Error(`client ${c.username}: no role ${r.rolename}`);
        clients.set(c.username, {
          username: c.username,
          ...(c.clientid ? { clientid: c.clientid } : {}),
          ...(c.textname ? { textname: c.textname } : {}),
          roles: (c.roles ?? []).map((r) => ({ rolename: r.rolename, ...(r.priority !== undefined ? { priority: r.priority } : {}) })),
          ...(c.password !== undefined ? hashed(c.password) : {}),
        });
        break;
      case 'setDefaultACLAccess':
        for (const a of c.acls) defaults[a.acltype] = a.allow;
        break;
      default:
        throw new Error(`${c.command} cannot be applied to the file`);
    }
  }
  return { ...file, defaultACLAccess: defaults, clients: [...clients.values()], roles: [...roles.values()] };
}
