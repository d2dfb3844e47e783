/**
 * Example requests and answers of the route table's operations (shared/http/route-docs.ts `examples`),
 * as a user would send and see them: the OpenAPI document shows them (shared/schemas/openapi.ts),
 * and test/unit/schemas/openapi.test.ts parses each with its route's own schemas, so an example
 * that drifts from the contract fails a test. Tokens and keys here are made up (well-formed).
 */

const AGENT_ID = 'support-bot';
const TOKEN = 'avt_ZViDgzG3Qqbx1ZNbMrRhKiu4DVN7HaPji9MDYaqFVoa94OrNcWL-9qJf6Xv1J6Jb4ZkmTw';
const NEW_TOKEN = 'avt_j2DzeWqx9LinzishBERC-DUiTQ00ZddOhV-NaaE255x0TqNaZ10zkzYKMny_Y1mir3QVsw';
const SESSION_ID = '4b1f0c2e-9a7d-4e6f-8a1b-2c3d4e5f6a7b';
const KEY_ID = '3f9c2a7b4d1e8f60';
const AT = '2026-12-01T09:30:00.000Z';

const agent = {
  agent_id: AGENT_ID,
  name: 'Support bot',
  description: 'Answers tickets in Zendesk',
  input_args: [
    { name: 'username', required: true, secret: false },
    { name: 'password', required: true, secret: true },
  ],
  runner: { type: 'webhook', url: 'https://runner.example.com/run', timeout_ms: 30000 },
  credential_delivery: 'parameters',
  owner: KEY_ID,
  created_at: AT,
  updated_at: AT,
};

const agentRequest = {
  name: 'Support bot',
  description: 'Answers tickets in Zendesk',
  input_args: [
    { name: 'username', required: true, secret: false },
    { name: 'password', required: true },
  ],
  runner: { type: 'webhook', url: 'https://runner.example.com/run', timeout_ms: 30000 },
};

const profile = {
  agent_id: AGENT_ID,
  name: 'zendesk',
  fields: ['password', 'username'],
  auth_type: 'custom',
  generation: 1,
  record_version: 1,
  should_save_session: false,
  created_at: AT,
  updated_at: AT,
  last_used_at: AT,
  use_count: 3,
  active: true,
  token_state: 'valid',
  allowed_source_ips: [],
  uses_last_7_days: { run: 2, proxy: 0, test: 1 },
  owner: KEY_ID,
  visibility: 'private',
  grants: [],
};

const bearerProfile = {
  ...profile,
  name: 'github',
  fields: ['token'],
  auth_type: 'bearer',
  allowed_hosts: ['api.github.com'],
  allowed_methods: ['GET', 'POST'],
  use_count: 0,
  uses_last_7_days: { run: 0, proxy: 0, test: 0 },
};
const { last_used_at: _unused, ...freshBearerProfile } = bearerProfile;
const { allowed_methods: _methods, ...apiKeyProfile } = freshBearerProfile;

const usage = { last_used_at: AT, use_count: 3, uses_last_7_days: { run: 2, proxy: 0, test: 1 } };

export const EXAMPLES = {
  createAgentAuthProfile: {
    request: { name: 'zendesk', agent_id: AGENT_ID, auth_data: { username: 'ann@example.com', password: 'correct horse battery staple' } },
    response: { auth_token: TOKEN },
  },
  upsertAgentAuthProfile: {
    request: { agent_id: AGENT_ID, auth_token: TOKEN, auth_data: { password: 'a new password' } },
    response: { auth_token: TOKEN, name: 'zendesk', type: 'update' },
  },
  runAgent: {
    request: { agent_id: AGENT_ID, auth_token: TOKEN, parameters: { ticket_id: '4711' }, run_async: false },
    response: { agent_run_url: `https://vault.example.com/v1/runs/${SESSION_ID}`, session_id: SESSION_ID, agent_output: { reply: 'Ticket 4711 answered' } },
  },
  runAgentAlias: {
    request: { agent_id: AGENT_ID, auth_token: TOKEN, parameters: { ticket_id: '4711' } },
    response: { agent_run_url: `https://vault.example.com/v1/runs/${SESSION_ID}`, session_id: SESSION_ID },
  },
  createAgent: {
    request: { agent_id: AGENT_ID, ...agentRequest },
    response: { ...agent, runner_signing_secret: 'avs_9qJf6Xv1J6Jb4ZkmTwZViDgzG3Qqbx1ZNbMrRhKiu4D' },
  },
  listAgents: { response: { agents: [agent], next_cursor: 'eyJwayI6ImFnZW50In0' } },
  getAgent: { response: agent },
  updateAgent: { request: { ...agentRequest, credential_delivery: 'parameters' }, response: agent },
  deleteAgent: {},
  rotateAgentSigningSecret: { response: { agent_id: AGENT_ID, runner_signing_secret: 'avs_Kiu4DVN7HaPji9MDYaqFVoa94OrNcWL9qJf6Xv1J6J' } },
  createApiKey: {
    request: { name: 'ci', role: 'member' },
    response: { key_id: KEY_ID, name: 'ci', role: 'member', created_at: AT, api_key: 'avk_LHDhK3oGRvkiefQnx7OOczTY5Tic_xZ6HcMOc_gmtoM' },
  },
  listApiKeys: { response: { api_keys: [{ key_id: KEY_ID, name: 'ci', role: 'member', created_at: AT }] } },
  revokeApiKey: {},
  listAgentAuthProfiles: { response: { profiles: [profile] } },
  createAuthProfile: {
    request: { name: 'github', auth_type: 'bearer', auth_data: { token: 'ghp_example' }, allowed_hosts: ['api.github.com'], allowed_methods: ['GET', 'POST'] },
    response: { auth_token: NEW_TOKEN, type: 'create', profile: freshBearerProfile },
  },
  putAuthProfile: {
    request: { auth_type: 'api_key', auth_config: { api_key_method: 'header' }, auth_data: { 'X-Api-Key': 'sk_example' }, allowed_hosts: ['api.example.com'] },
    response: {
      auth_token: NEW_TOKEN,
      type: 'replace',
      profile: { ...apiKeyProfile, name: 'zendesk', fields: ['X-Api-Key'], auth_type: 'api_key', auth_config: { api_key_method: 'header' }, allowed_hosts: ['api.example.com'], generation: 2, record_version: 2 },
    },
  },
  testAuthProfile: {
    request: { auth_token: NEW_TOKEN, request: { method: 'GET', url: 'https://api.github.com/user' } },
    response: { ok: true, status: 200, latency_ms: 182 },
  },
  proxyRequest: {
    request: { agent_id: AGENT_ID, auth_token: NEW_TOKEN, method: 'GET', url: 'https://api.github.com/user', headers: { accept: 'application/json' } },
    response: { status: 200, headers: { 'content-type': 'application/json' }, body: '{"login":"octocat","token":"[REDACTED]"}', body_encoding: 'utf8' },
  },
  getAgentAuthProfile: { response: profile },
  patchAuthProfile: {
    request: { active: false, description: 'Paused while the password is reset', allowed_source_ips: ['203.0.113.0/24'] },
    response: { ...profile, active: false, description: 'Paused while the password is reset', allowed_source_ips: ['203.0.113.0/24'], record_version: 2 },
  },
  deleteAgentAuthProfile: {},
  rotateAuthProfile: {
    request: { auth_token: TOKEN, expires_in_hours: 720 },
    response: { auth_token: NEW_TOKEN, name: 'zendesk', generation: 2, token_expires_at: '2026-12-31T09:30:00.000Z' },
  },
  getAuthProfileUsage: {
    response: {
      ...usage,
      uses: [{ at: AT, action: 'run', key_id: KEY_ID, status: 200, result: 'ok', source_ip: '203.0.113.7', request_id: 'req-1f2e3d', session_id: SESSION_ID }],
    },
  },
  shareAuthProfile: {
    request: { principal: 'role:member', permission: 'read' },
    response: { ...profile, visibility: 'shared', grants: [{ principal: 'role:member', permission: 'read' }] },
  },
  unshareAuthProfile: { response: profile },
  listAuditRecords: {
    response: {
      records: [{ id: '01JEXAMPLE0000000000000000', at: AT, action: 'run', key_id: KEY_ID, agent_id: AGENT_ID, profile: 'zendesk', generation: 1, status: 200, result: 'ok', source_ip: '203.0.113.7', session_id: SESSION_ID }],
      next_cursor: 'eyJhdCI6IjIwMjYifQ',
    },
  },
  getRun: { response: { session_id: SESSION_ID, agent_id: AGENT_ID, status: 'succeeded', agent_output: { reply: 'Ticket 4711 answered' }, created_at: AT, finished_at: '2026-12-01T09:30:04.000Z' } },
  getOpenApiDocument: {},
  getHealth: { response: { status: 'ok' } },
} as const;
