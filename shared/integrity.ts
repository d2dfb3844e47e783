/**
 * Integrity of the items the vault trusts without a token (agents, API keys): each is written
 * with a MAC under the server key's `mac` subkey and checked on every read before use
 * (shared/crypto/item-mac.ts has the formula). A table writer without the server key can then
 * neither point an agent's runner at themselves nor mint or move an API key.
 */
import { macItem, verifyItemMac } from './crypto/item-mac.ts';
import type { ServerKeyRing } from './crypto/server-key.ts';
import type { Deps } from './deps.ts';
import { IntegrityError } from './errors.ts';
import type { AgentItem, ApiKeyItem } from './schemas/items.ts';
import type { ApiKeyRecord, NewAgentItem, SignedAgentItem } from './store/types.ts';

/**
 * What an agent's MAC covers: every stored field (tenant, agent_id, incarnation, version, runner
 * with url/type/timeout, input_args, name, description, the sealed signing secret, timestamps)
 * except its key and the MAC itself, with tenant and agent id taken from the key that was read.
 */
function agentMacFields(tenant: string, agentId: string, item: NewAgentItem | AgentItem): Record<string, unknown> {
  const { pk: _pk, sk: _sk, entity: _e, mac: _m, mac_key_id: _k, ...fields } = item as Partial<AgentItem>;
  return { ...fields, tenant, agent_id: agentId };
}

/** Adds the integrity MAC (under the current server key) to an agent about to be written. */
export function signAgent(ring: ServerKeyRing, record: NewAgentItem): SignedAgentItem {
  const { mac: _m, mac_key_id: _k, ...fields } = record as NewAgentItem & Partial<AgentItem>;
  return { ...fields, ...macItem(ring, 'agent', agentMacFields(record.tenant, record.agent_id, fields)) };
}

/** 500 agent_integrity_check_failed: says what to do, never why. */
const agentIntegrityFailed = (agentId: string) =>
  new IntegrityError(
    `Agent "${agentId}" failed the vault's integrity check and was not used; delete it (DELETE /v1/agents/${agentId}?force=true), register it again, and tell the vault's operator`,
    'agent_integrity_check_failed',
  );

/**
 * The agent read for (tenant, agentId), once its MAC verifies. A missing or wrong MAC means the
 * item was written without the server key: it is refused (IntegrityError) and logged with the
 * tenant and agent id only. Undefined stays undefined (not found).
 */
export function verifiedAgent(deps: Pick<Deps, 'serverKeys' | 'log'>, tenant: string, agentId: string, item: AgentItem | undefined): AgentItem | undefined {
  if (!item) return undefined;
  const intact =
    item.tenant === tenant && item.agent_id === agentId && verifyItemMac(deps.serverKeys, 'agent', agentMacFields(tenant, agentId, item), item);
  if (!intact) {
    deps.log.log('error', 'agent item integrity check failed', { tenant, agent_id: agentId });
    throw agentIntegrityFailed(agentId);
  }
  return item;
}

/**
 * What an API key item's MAC covers: the key hash (from the key that was read, not the item),
 * tenant, label, created_at and any other stored field (a future role too).
 */
function apiKeyMacFields(hash: string, item: Omit<ApiKeyRecord, 'mac' | 'mac_key_id'> | ApiKeyItem): Record<string, unknown> {
  const { pk: _pk, sk: _sk, mac: _m, mac_key_id: _k, ...fields } = item as Partial<ApiKeyItem>;
  return { ...fields, hash };
}

/** Adds the integrity MAC (under the current server key) to an API key item about to be written. */
export function signApiKey(ring: ServerKeyRing, hash: string, fields: Omit<ApiKeyRecord, 'mac' | 'mac_key_id'>): ApiKeyRecord {
  return { ...fields, ...macItem(ring, 'api-key', apiKeyMacFields(hash, fields)) };
}

/** True if the stored API key item's MAC verifies for this key hash. */
export function apiKeyItemIntact(ring: ServerKeyRing, hash: string, item: ApiKeyItem): boolean {
  return verifyItemMac(ring, 'api-key', apiKeyMacFields(hash, item), item);
}
