/**
 * Where each operation of the document lives: its method and path. The SDK cannot read the vault's
 * route table (shared/http/routes.ts) at run time, so it keeps this copy; the type below makes
 * `tsc` refuse an entry whose path and method are not that operation in the generated document
 * (schema.d.ts), and test/e2e/sdk-typescript.e2e.test.ts checks that every operation of the
 * document has an entry.
 */
import type { operations, paths } from './schema.d.ts';
import type { OperationId } from './types.ts';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

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
  createWebhook: { method: 'POST', path: '/v1/webhooks' },
  listWebhooks: { method: 'GET', path: '/v1/webhooks' },
  getWebhook: { method: 'GET', path: '/v1/webhooks/{webhook_id}' },
  updateWebhook: { method: 'PATCH', path: '/v1/webhooks/{webhook_id}' },
  deleteWebhook: { method: 'DELETE', path: '/v1/webhooks/{webhook_id}' },
  rotateWebhookSecret: { method: 'POST', path: '/v1/webhooks/{webhook_id}/rotate-secret' },
  listWebhookDeliveries: { method: 'GET', path: '/v1/webhooks/{webhook_id}/deliveries' },
  sendWebhookTestEvent: { method: 'POST', path: '/v1/webhooks/{webhook_id}/test' },
  listAgentAuthProfiles: { method: 'GET', path: '/v1/agents/{agent_id}/auth-profiles' },
  listAuthProfiles: { method: 'GET', path: '/v1/auth-profiles' },
  createAuthProfile: { method: 'POST', path: '/v1/agents/{agent_id}/auth-profiles' },
  getAgentAuthProfile: { method: 'GET', path: '/v1/agents/{agent_id}/auth-profiles/{name}' },
  putAuthProfile: { method: 'PUT', path: '/v1/agents/{agent_id}/auth-profiles/{name}' },
  deleteAgentAuthProfile: { method: 'DELETE', path: '/v1/agents/{agent_id}/auth-profiles/{name}' },
  patchAuthProfile: { method: 'PATCH', path: '/v1/agents/{agent_id}/auth-profiles/{name}' },
  testAuthProfile: { method: 'POST', path: '/v1/agents/{agent_id}/auth-profiles/{name}/test' },
  proxyRequest: { method: 'POST', path: '/v1/proxy' },
  rotateAuthProfile: { method: 'POST', path: '/v1/agents/{agent_id}/auth-profiles/{name}/rotate' },
  connectAuthProfile: { method: 'POST', path: '/v1/agents/{agent_id}/auth-profiles/{name}/connect' },
  disconnectAuthProfile: { method: 'POST', path: '/v1/agents/{agent_id}/auth-profiles/{name}/disconnect' },
  openConnectLink: { method: 'GET', path: '/v1/oauth/connect' },
  oauthCallback: { method: 'GET', path: '/v1/oauth/callback' },
  getAuthProfileUsage: { method: 'GET', path: '/v1/agents/{agent_id}/auth-profiles/{name}/usage' },
  shareAuthProfile: { method: 'POST', path: '/v1/agents/{agent_id}/auth-profiles/{name}/share' },
  unshareAuthProfile: { method: 'DELETE', path: '/v1/agents/{agent_id}/auth-profiles/{name}/share/{principal}' },
  listAuditRecords: { method: 'GET', path: '/v1/audit' },
  getRun: { method: 'GET', path: '/v1/runs/{session_id}' },
  getOpenApiDocument: { method: 'GET', path: '/openapi.json' },
  getHealth: { method: 'GET', path: '/healthz' },
  // HEAD wherever GET is (RFC 9110 §9.3.2): the GET's status and headers, no body.
  listAgentsHead: { method: 'HEAD', path: '/v1/agents' },
  getAgentHead: { method: 'HEAD', path: '/v1/agents/{agent_id}' },
  listApiKeysHead: { method: 'HEAD', path: '/v1/api-keys' },
  listWebhooksHead: { method: 'HEAD', path: '/v1/webhooks' },
  getWebhookHead: { method: 'HEAD', path: '/v1/webhooks/{webhook_id}' },
  listWebhookDeliveriesHead: { method: 'HEAD', path: '/v1/webhooks/{webhook_id}/deliveries' },
  listAgentAuthProfilesHead: { method: 'HEAD', path: '/v1/agents/{agent_id}/auth-profiles' },
  listAuthProfilesHead: { method: 'HEAD', path: '/v1/auth-profiles' },
  getAgentAuthProfileHead: { method: 'HEAD', path: '/v1/agents/{agent_id}/auth-profiles/{name}' },
  getAuthProfileUsageHead: { method: 'HEAD', path: '/v1/agents/{agent_id}/auth-profiles/{name}/usage' },
  listAuditRecordsHead: { method: 'HEAD', path: '/v1/audit' },
  getRunHead: { method: 'HEAD', path: '/v1/runs/{session_id}' },
  getOpenApiDocumentHead: { method: 'HEAD', path: '/openapi.json' },
  getHealthHead: { method: 'HEAD', path: '/healthz' },
  openConnectLinkHead: { method: 'HEAD', path: '/v1/oauth/connect' },
  oauthCallbackHead: { method: 'HEAD', path: '/v1/oauth/callback' },
};
