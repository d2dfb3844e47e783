import { randomBytes } from 'node:crypto';
import type { Deps } from '../deps.ts';
import { openWithServerKey, sealWithServerKey } from '../crypto/server-seal.ts';
import { ConflictError, agentNotFound } from '../errors.ts';
import { assertRunnerUrlAllowed } from '../outbound/runner-policy.ts';
import type { Agent, CreateAgentBody, UpdateAgentBody } from '../schemas/agents.ts';
import type { AgentItem } from '../schemas/items.ts';
import type { NewAgentItem } from '../store/types.ts';

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

/** The stored agent, 404 agent_not_found, or 500 if it fails its integrity check (the signed store). */
export async function requireAgent(deps: Deps, tenant: string, agentId: string): Promise<AgentItem> {
  const item = await deps.store.agents.get(tenant, agentId);
  if (!item) throw agentNotFound(agentId);
  return item;
}

/** Registers an agent; returns it with its runner signing secret (shown this once). */
export async function createAgent(deps: Deps, tenant: string, body: CreateAgentBody) {
  await assertRunnerUrlAllowed(deps.config, body.runner.url);
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
    version: 1,
    created_at: now,
    updated_at: now,
  };
  if (!(await deps.store.agents.create(item))) {
    throw new ConflictError(`An agent with agent_id "${agentId}" already exists; update it with PUT /v1/agents/${agentId}`, 'agent_exists');
  }
  return { ...toAgent(item), runner_signing_secret: secret };
}

export async function getAgent(deps: Deps, tenant: string, agentId: string): Promise<Agent> {
  return toAgent(await requireAgent(deps, tenant, agentId));
}

export async function listAgents(deps: Deps, tenant: string, limit: number, cursor?: string) {
  const page = await deps.store.agents.list(tenant, limit, cursor);
  // An agent that fails its integrity check is left out of the list (and logged) by the store;
  // reading it by id answers the integrity error with the way to fix it.
  const agents = page.items.map(toAgent);
  return { agents, next_cursor: page.next };
}

/** Replaces an agent's definition (PUT); 409 if it changed since it was read. */
export async function updateAgent(deps: Deps, tenant: string, agentId: string, body: UpdateAgentBody): Promise<Agent> {
  await assertRunnerUrlAllowed(deps.config, body.runner.url);
  const current = await requireAgent(deps, tenant, agentId);
  const currentFields = current;
  const next: AgentItem = {
    ...currentFields,
    name: body.name,
    description: body.description,
    input_args: body.input_args,
    runner: body.runner,
    credential_delivery: body.credential_delivery ?? 'parameters',
    version: current.version + 1,
    updated_at: deps.now().toISOString(),
  };
  const { pk: _pk, sk: _sk, entity: _e, ...record } = next;
  if (!(await deps.store.agents.replace(record, current.version))) {
    throw new ConflictError(`Agent "${agentId}" was changed or deleted by another request; read it again and retry`);
  }
  return toAgent(next);
}

/** Issues a new runner signing secret; the old one stops being used at once. */
export async function rotateSigningSecret(deps: Deps, tenant: string, agentId: string) {
  const current = await requireAgent(deps, tenant, agentId);
  const { secret, sealed } = newSigningSecret(deps, tenant, agentId);
  const { pk: _pk, sk: _sk, entity: _e, ...record } = current;
  const ok = await deps.store.agents.replace(
    { ...record, signing_secret: sealed, version: current.version + 1, updated_at: deps.now().toISOString() },
    current.version,
  );
  if (!ok) throw new ConflictError(`Agent "${agentId}" was changed or deleted by another request; retry`);
  return { agent_id: agentId, runner_signing_secret: secret };
}

/**
 * Deletes an agent. With profiles left it refuses (409) unless `force`, which deletes every
 * profile of the agent first. Saved sessions go in either case (a session can outlive its
 * profile when a run raced a delete and the vault stopped before cleaning up), then the agent.
 */
export async function deleteAgent(deps: Deps, tenant: string, agentId: string, force: boolean): Promise<void> {
  const profiles = deps.store.profiles;
  // No integrity check here: deleting uses nothing the item says, and it is how an agent that
  // fails the check is cleared away.
  if (!(await deps.store.agents.exists(tenant, agentId))) throw agentNotFound(agentId);
  if (!force && (await profiles.hasAny(tenant, agentId))) {
    throw new ConflictError(
      `Agent "${agentId}" still has auth profiles; delete them first or pass ?force=true to delete them with the agent`,
      'agent_has_profiles',
    );
  }
  const removed = await profiles.deleteAllOfAgent(tenant, agentId);
  if (!(await deps.store.agents.delete(tenant, agentId))) throw agentNotFound(agentId);
  deps.log.log('info', 'agent deleted', { agent_id: agentId, profiles_deleted: removed.profiles, sessions_deleted: removed.sessions });
}
