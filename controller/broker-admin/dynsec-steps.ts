import type { Topics } from '../../shared/topics.js';
import { BrokerAdminError } from './broker-admin-error.js';
import { checked, type DynsecClient } from './dynsec-client.js';
import { deviceAcls, deviceRoleName } from './dynsec-acl.js';
import { ALREADY_IN_ROLE } from './dynsec-bootstrap.js';
import { DYNSEC_ALREADY, type DynsecCommand, type DynsecResponse } from './dynsec-schemas.js';
import type { DynsecStep } from './plan-dynsec-repair.js';

/** The commands of one step; errors listed in `tolerate` mean "already so". */
interface StepCommands {
  commands: DynsecCommand[];
  tolerate: string[];
}

export interface StepOutcome {
  step: DynsecStep;
  error: BrokerAdminError | null;
}

/** Step kind → dynamic-security commands (exhaustive: a new kind does not compile without its commands). */
export function commandsFor(step: DynsecStep, topics: Topics): StepCommands {
  const username = step.deviceId;
  const rolename = deviceRoleName(step.deviceId);
  switch (step.kind) {
    case 'create':
      return {
        commands: [
          { command: 'createRole', rolename, acls: deviceAcls(topics, username) },
          {
            command: 'createClient',
            username,
            // Binds the client id to the identity: no one else's session can be taken over (protocol §3).
            clientid: username,
            ...(step.secret !== null ? { password: step.secret } : {}),
            roles: [{ rolename }],
          },
        ],
        tolerate: [DYNSEC_ALREADY.roleExists, DYNSEC_ALREADY.clientExists],
      };
    case 'set-password':
      // Mosquitto disconnects the client's sessions when its password changes.
      return { commands: [{ command: 'setClientPassword', username, password: step.secret }], tolerate: [] };
    case 'delete':
      return {
        commands: [
          { command: 'deleteClient', username },
          { command: 'deleteRole', rolename },
        ],
        tolerate: [DYNSEC_ALREADY.clientNotFound, DYNSEC_ALREADY.roleNotFound],
      };
    case 'delete-role':
      return { commands: [{ command: 'deleteRole', rolename }], tolerate: [DYNSEC_ALREADY.roleNotFound] };
    case 'add-acls':
      return {
        commands: step.acls.map((acl): DynsecCommand => ({ command: 'addRoleACL', rolename, acltype: acl.acltype, topic: acl.topic, allow: acl.allow })),
        tolerate: [DYNSEC_ALREADY.aclExists],
      };
    case 'discard-pending':
      return { commands: [], tolerate: [] };
  }
}

/**
 * A client that existed already (made by hand, or by a create whose answer
 * was lost) is brought to the same end state: our role, bound client id,
 * and the secret when one is known.
 */
function adoptExisting(step: Extract<DynsecStep, { kind: 'create' }>): StepCommands {
  const username = step.deviceId;
  return {
    commands: [
      { command: 'addClientRole', username, rolename: deviceRoleName(username) },
      { command: 'setClientId', username, clientid: username },
      ...(step.secret !== null ? [{ command: 'setClientPassword', username, password: step.secret } as const] : []),
    ],
    tolerate: [ALREADY_IN_ROLE],
  };
}

/** Carries the steps out in batched messages; one outcome per step, in order. */
export async function executeDynsecSteps(client: DynsecClient, topics: Topics, steps: readonly DynsecStep[]): Promise<StepOutcome[]> {
  const plans = steps.map((s) => commandsFor(s, topics));
  const answers = await sendAll(client, plans);
  const outcomes: StepOutcome[] = steps.map((step, i) => ({ step, error: failure(answers[i] ?? [], plans[i]?.tolerate ?? []) }));
  // Second round for clients that existed already.
  const adopt = outcomes.flatMap((o, i) => (o.error === null && o.step.kind === 'create' && answers[i]?.[1]?.error === DYNSEC_ALREADY.clientExists ? [i] : []));
  if (adopt.length > 0) {
    const adoptPlans = adopt.map((i) => adoptExisting(steps[i] as Extract<DynsecStep, { kind: 'create' }>));
    const adoptAnswers = await sendAll(client, adoptPlans);
    adopt.forEach((i, k) => {
      const o = outcomes[i];
      if (o) o.error = failure(adoptAnswers[k] ?? [], adoptPlans[k]?.tolerate ?? []);
    });
  }
  return outcomes;
}

async function sendAll(client: DynsecClient, plans: readonly StepCommands[]): Promise<DynsecResponse[][]> {
  const flat = plans.flatMap((p) => p.commands);
  const responses = flat.length === 0 ? [] : await client.send(flat);
  let at = 0;
  return plans.map((p) => {
    const mine = responses.slice(at, at + p.commands.length);
    at += p.commands.length;
    return mine;
  });
}

function failure(responses: readonly DynsecResponse[], tolerate: readonly string[]): BrokerAdminError | null {
  for (const r of responses) {
    try {
      checked(r, tolerate);
    } catch (err) {
      return err as BrokerAdminError;
    }
  }
  return null;
}
