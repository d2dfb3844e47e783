/**
 * Where each operation of the document lives: its method and path. The SDK cannot read the vault's
 * route table (shared/http/routes.ts) at run time, so it keeps this copy; the type below makes
 * `tsc` refuse an entry whose path and method are not that operation in the generated document
 * (schema.d.ts), and test/e2e/sdk-typescript.e2e.test.ts checks that every operation of the
 * document has an entry.
 */
import type { operations, paths } from './schema.d.ts';
import type { OperationId } from './types.ts';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** The path (document syntax, `{agent_id}`) under which `paths` serves `Op` with method `M`. */
type PathOf<Op extends OperationId, M extends Method> = {
  [P in keyof paths]: paths[P] extends { [K in Lowercase<M>]: operations[Op] } ? P : never;
}[keyof paths];

type Entry<Op extends OperationId> = {
  [M in Method]: PathOf<Op, M> extends never ? never : { readonly method: M; readonly path: PathOf<Op, M> };
}[Method];

export const OPERATIONS: { readonly [Op in OperationId]: Entry<Op> } = {
  createAgentAuthProfile: { method: 'POST', path: '/api/create_agent_auth_profile' },
  upsertAgentAuthProfile: { method: 'POST', path: '/api/upsert_agent_auth_profile' },
  runAgent: { method: 'POST', path: '/run_agent' },
  runAgentAlias: { method: 'POST', path: '/api/run_agent' },
  listAgents: { method: 'GET', path: '/v1/agents' },
  createAgent: { method: 'POST', path: '/v1/agents' },
  getAgent: { method: 'GET', path: '/v1/agents/{agent_id}' },
  updateAgent: { method: 'PUT', path: '/v1/agents/{agent_id}' },
  deleteAgent: { method: 'DELETE', path: '/v1/agents/{agent_id}' },
  rotateAgentSigningSecret: { method: 'POST', path: '/v1/agents/{agent_id}/rotate-signing-secret' },
  listApiKeys: { method: 'GET', path: '/v1/api-keys' },
  createApiKey: { method: 'POST', path: '/v1/api-keys' },
  revokeApiKey: { method: 'DELETE', path: '/v1/api-keys/{key_id}' },
  listAgentAuthProfiles: { method: 'GET', path: '/v1/agents/{agent_id}/auth-profiles' },
  createAuthProfile: { method: 'POST', path: '/v1/agents/{agent_id}/auth-profiles' },
  getAgentAuthProfile: { method: 'GET', path: '/v1/agents/{agent_id}/auth-profiles/{name}' },
  putAuthProfile: { method: 'PUT', path: '/v1/agents/{agent_id}/auth-profiles/{name}' },
  deleteAgentAuthProfile: { method: 'DELETE', path: '/v1/agents/{agent_id}/auth-profiles/{name}' },
  patchAuthProfile: { method: 'PATCH', path: '/v1/agents/{agent_id}/auth-profiles/{name}' },
  testAuthProfile: { method: 'POST', path: '/v1/agents/{agent_id}/auth-profiles/{name}/test' },
  proxyRequest: { method: 'POST', path: '/v1/proxy' },
  rotateAuthProfile: { method: 'POST', path: '/v1/agents/{agent_id}/auth-profiles/{name}/rotate' },
  getAuthProfileUsage: { method: 'GET', path: '/v1/agents/{agent_id}/auth-profiles/{name}/usage' },
  shareAuthProfile: { method: 'POST', path: '/v1/agents/{agent_id}/auth-profiles/{name}/share' },
  unshareAuthProfile: { method: 'DELETE', path: '/v1/agents/{agent_id}/auth-profiles/{name}/share/{principal}' },
  listAuditRecords: { method: 'GET', path: '/v1/audit' },
  getRun: { method: 'GET', path: '/v1/runs/{session_id}' },
  getOpenApiDocument: { method: 'GET', path: '/openapi.json' },
  getHealth: { method: 'GET', path: '/healthz' },
};
