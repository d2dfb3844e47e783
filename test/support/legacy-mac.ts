import { macItem } from '#shared/crypto/item-mac';
import type { ServerKeyRing } from '#shared/crypto/server-key';
import type { ApiKeyRecord, NewAgentItem } from '#shared/store/types';

/**
 * Items as the vault wrote them before the signed store (shared/store/signer.ts): agents and API
 * keys with a v1 MAC that the services computed (shared/crypto/item-mac.ts v1), no mac_format.
 * The signed store still verifies them; tests write them raw to prove it.
 */
export function legacyApiKeyItem(ring: ServerKeyRing, hash: string, fields: Partial<ApiKeyRecord> & Pick<ApiKeyRecord, 'tenant' | 'created_at'>) {
  return { pk: `APIKEY#${hash}`, sk: 'APIKEY', ...fields, ...macItem(ring, 'api-key', { ...fields, hash }) };
}

/** An agent item with a v1 MAC (over every field but its key and entity, tenant and agent id included). */
export function legacyAgentItem(ring: ServerKeyRing, record: NewAgentItem) {
  return { pk: `TENANT#${record.tenant}`, sk: `AGENT#${record.agent_id}`, entity: 'agent', ...record, ...macItem(ring, 'agent', { ...record }) };
}
