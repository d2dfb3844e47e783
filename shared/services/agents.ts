import { randomBytes } from 'node:crypto';
import type { Caller, Deps } from '../deps.ts';
import { openWithServerKey, sealWithServerKey } from '../crypto/server-seal.ts';
import { auditedChange } from '../audit/log.ts';
import { type AuditEventInput, eventBy } from '../audit/record.ts';
import { accessOf } from '../credentials/access.ts';
import { ConflictError, ForbiddenError, agentNotFound } from '../errors.ts';
import { assertRunnerUrlAllowed } from '../outbound/runner-policy.ts';
import type { Agent, CreateAgentBody, UpdateAgentBody } from '../schemas/agents.ts';
import type { AgentItem, ProfileItem } from '../schemas/items.ts';
import type { NewAgentItem } from '../store/types.ts';
import { publishEvents } from '../webhooks/publish.ts';
import { type AgentTarget, requireAgent } from './targets.ts';

const SIGNING_PURPOSE = 'runner-signing-secret';
export const SIGNING_SECRET_PREFIX = 'avs_';

function toAgent(item: NewAgentItem): Agent {
  return {
    agent_id: item.agent_id,
    name: item.name,
    description: item.description,
    input_args: item.input_args,
    runner: item.runner,
    credential_delivery: item.credential_delivery ?? 'parameters',
    owner: item.owner,
    created_at: item.created_at,
    updated_at: item.updated_at,
  };
}

function newSigningSecret(deps: Deps, tenant: string, agentId: string): { secret: string; sealed: Buffer } {
  const secret = SIGNING_SECRET_PREFIX + randomBytes(32).toString('base64url');
  return { secret, sealed: sealWithServerKey(deps.serverKeys, SIGNING_PURPOSE, [tenant, agentId], Buffer.from(secret)) };
}

/** Decrypts an agent's runner signing secret (for signing webhook calls). */
export function openSigningSecret(deps: Deps, item: AgentItem): string {
  return openWithServerKey(deps.serverKeys, SIGNING_PURPOSE, [item.tenant, item.agent_id], item.signing_secret).toString();
}

/** The audit event of a change to an agent by `caller` (tenant and agent views). */
const agentEvent = (caller: Caller, action: AuditEventInput['action'], agentId: string, status: number) => eventBy(caller, action, status, { agent_id: agentId });

/** The agent a route's `agent_owner` permission let through: read by the check, or now (an admin's). */
const agentOf = (deps: Deps, caller: Caller, target: AgentTarget) => target.agent ?? requireAgent(deps, caller.tenant, target.agentId);

/**
 * Registers an agent, owned by the calling key (its owner and the admins may change it); returns
 * it with its runner signing secret (shown this once).
 */
export async function createAgent(deps: Deps, caller: Caller, body: CreateAgentBody) {
  await assertRunnerUrlAllowed(deps.config, body.runner.url);
  const tenant = caller.tenant;
  const agentId = body.agent_id ?? `agt_${randomBytes(12).toString('base64url')}`;
  const now = deps.now().toISOString();
  const { secret, sealed } = newSigningSecret(deps, tenant, agentId);
  const item: NewAgentItem = {
    tenant,
    agent_id: agentId,
    name: body.name,
    description: body.description,
    input_args: body.input_args,
    runner: body.runner,
    credential_delivery: body.credential_delivery ?? 'parameters',
    signing_secret: sealed,
    incarnation: randomBytes(8).toString('hex'),
    owner: caller.apiKeyId,
    version: 1,
    created_at: now,
    updated_at: now,
  };
  await auditedChange(deps, agentEvent(caller, 'agent_create', agentId, 201), async () => {
    if (!(await deps.store.agents.create(item))) {
      throw new ConflictError(`An agent with agent_id "${agentId}" already exists; update it with PUT /v1/agents/${agentId}`, 'agent_exists');
    }
  });
  return { ...toAgent(item), runner_signing_secret: secret };
}

/** GET /v1/agents/{agent_id}: every key of the tenant may read an agent (its signing secret never). */
export async function getAgent(deps: Deps, caller: Caller, agentId: string): Promise<Agent> {
  return toAgent(await requireAgent(deps, caller.tenant, agentId));
}

export async function listAgents(deps: Deps, caller: Caller, limit: number, cursor?: string) {
  const tenant = caller.tenant;
  const page = await deps.store.agents.list(tenant, limit, cursor);
  // An agent that fails its integrity check is left out of the list (and logged) by the store;
  // reading it by id answers the integrity error with the way to fix it.
  const agents = page.items.map(toAgent);
  return { agents, next_cursor: page.next };
}

/**
 * Replaces an agent's definition (PUT; its owner or an admin: the route's permission). A field
 * left out keeps nothing but `credential_delivery`, which keeps the stored mode: a PUT that does
 * not mention it (an older client, a form that never showed it) must not switch a proxy agent
 * to handing its runner the secrets. 409 if the agent changed since it was read.
 */
export async function updateAgent(deps: Deps, caller: Caller, target: AgentTarget, body: UpdateAgentBody): Promise<Agent> {
  await assertRunnerUrlAllowed(deps.config, body.runner.url);
  const current = await agentOf(deps, caller, target);
  const currentFields = current;
  const next: AgentItem = {
    ...currentFields,
    name: body.name,
    description: body.description,
    input_args: body.input_args,
    runner: body.runner,
    credential_delivery: body.credential_delivery ?? current.credential_delivery ?? 'parameters',
    version: current.version + 1,
    updated_at: deps.now().toISOString(),
  };
  const { pk: _pk, sk: _sk, entity: _e, ...record } = next;
  await auditedChange(deps, agentEvent(caller, 'agent_update', target.agentId, 200), async () => {
    if (!(await deps.store.agents.replace(record, current.version))) {
      throw new ConflictError(`Agent "${target.agentId}" was changed or deleted by another request; read it again and retry`);
    }
  });
  return toAgent(next);
}

/** Issues a new runner signing secret (its owner or an admin); the old one stops being used at once. */
export async function rotateSigningSecret(deps: Deps, caller: Caller, target: AgentTarget) {
  const agentId = target.agentId;
  const current = await agentOf(deps, caller, target);
  const { secret, sealed } = newSigningSecret(deps, caller.tenant, agentId);
  const { pk: _pk, sk: _sk, entity: _e, ...record } = current;
  await auditedChange(deps, agentEvent(caller, 'agent_rotate_signing_secret', agentId, 200), async () => {
    const ok = await deps.store.agents.replace(
      { ...record, signing_secret: sealed, version: current.version + 1, updated_at: deps.now().toISOString() },
      current.version,
    );
    if (!ok) throw new ConflictError(`Agent "${agentId}" was changed or deleted by another request; retry`);
  });
  return { agent_id: agentId, runner_signing_secret: secret };
}

/**
 * A forced delete takes every profile of the agent with it, so a member needs read_write on each
 * (shared/credentials/access.ts): 403 naming the ones it may not delete (those it cannot even see
 * are counted, not named). An admin may delete them all.
 */
async function assertMayDeleteProfilesOf(deps: Deps, caller: Caller, agentId: string): Promise<void> {
  if (caller.role === 'admin') return;
  const named: string[] = [];
  let unseen = 0;
  let cursor: string | undefined;
  do {
    const page = await deps.store.profiles.list(caller.tenant, agentId, 100, cursor);
    for (const item of page.items) {
      const access = accessOf(caller, item);
      if (access === 'read') named.push(`"${item.name}"`);
      else if (access === 'none') unseen++;
    }
    cursor = page.next;
  } while (cursor);
  if (named.length === 0 && unseen === 0) return;
  const parts = [...(named.length ? [`auth profile${named.length > 1 ? 's' : ''} ${named.join(', ')} (read only)`] : []), ...(unseen ? [`${unseen} auth profile${unseen > 1 ? 's' : ''} your key cannot see`] : [])];
  throw new ForbiddenError(
    `Deleting agent "${agentId}" with ?force=true deletes every auth profile under it, which needs read_write on each; your key (${caller.apiKeyId}) may not delete ${parts.join(' and ')}. Ask their owners or an admin.`,
    'forbidden',
  );
}

/**
 * Deletes an agent (its owner or an admin). With profiles left it refuses (409) unless `force`,
 * which deletes every profile of the agent first (read_write on each needed). Saved sessions go
 * in either case (a session can outlive its profile when a run raced a delete and the vault
 * stopped before cleaning up), then the agent. Tenant webhooks get one `profile.deleted` per
 * profile removed (docs/architecture.md, "Webhooks").
 */
export async function deleteAgent(deps: Deps, caller: Caller, target: AgentTarget, force: boolean): Promise<void> {
  const { tenant } = caller;
  const { agentId } = target;
  const profiles = deps.store.profiles;
  // An admin's delete reads nothing the item says (the route let it through without reading the
  // agent, and the existence check reads its key only), so it is also how an agent that fails its
  // integrity check is cleared away.
  if (!target.agent && !(await deps.store.agents.exists(tenant, agentId))) throw agentNotFound(agentId);
  if (!force && (await profiles.hasAny(tenant, agentId))) {
    throw new ConflictError(
      `Agent "${agentId}" still has auth profiles; delete them first or pass ?force=true to delete them with the agent`,
      'agent_has_profiles',
    );
  }
  if (force) await assertMayDeleteProfilesOf(deps, caller, agentId);
  // The profiles this delete removed, each named by the item it removed, as it goes (store
  // deleteAllOfAgent): a delete that fails part-way still reports those already gone.
  const deleted: ProfileItem[] = [];
  try {
    const removed = await auditedChange(deps, agentEvent(caller, 'agent_delete', agentId, 204), async () => {
      const counts = await profiles.deleteAllOfAgent(tenant, agentId, (item) => deleted.push(item));
      if (!(await deps.store.agents.delete(tenant, agentId))) throw agentNotFound(agentId);
      return counts;
    });
    deps.log.log('info', 'agent deleted', { agent_id: agentId, profiles_deleted: removed.profiles, sessions_deleted: removed.sessions });
  } finally {
    // After the deletes, as a single profile delete publishes its event (shared/services/lifecycle.ts):
    // one profile.deleted per profile removed, none for one that was not; never throws (a failure
    // to enqueue is logged and counted), so the delete's own outcome is what the caller gets.
    await publishEvents(
      deps,
      tenant,
      deleted.map((item) => ({
        type: 'profile.deleted' as const,
        agent_id: agentId,
        profile: item.name,
        data: { generation: item.generation, forced: force },
      })),
    );
  }
}
