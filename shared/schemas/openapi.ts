import * as z from 'zod';
import { type RouteDef, routeKey, routes } from '../http/routes.ts';
import { Agent, AgentList, CreateAgentBody, CreatedAgent, InputArg, Runner, SigningSecret, UpdateAgentBody } from './agents.ts';
import { ApiKey, ApiKeyList, CreateApiKeyBody, CreatedApiKey } from './api-keys.ts';
import { ErrorBody } from './common.ts';
import {
  CreateProfileBody,
  CreateProfileResponse,
  NativeCreateProfileBody,
  NativeProfileResponse,
  NativePutProfileBody,
  ProfileList,
  ProfileMetadata,
  ShareProfileBody,
  UpsertProfileBody,
  UpsertProfileResponse,
} from './profiles.ts';
import { AuditPage } from './audit.ts';
import { PatchProfileBody, ProfileUsage, RotateProfileBody, RotateProfileResponse } from './lifecycle.ts';
import { RunAgentBody, RunAgentResponse, RunStatus } from './runs.ts';
import { GrantProxyBody, ProxyBody, ProxyResponse, TestProfileBody, TestProfileResponse } from './proxy.ts';

/**
 * Named schemas: each becomes `components.schemas.<Name>` and is referenced by `$ref`, so that
 * generated clients get named types (`Agent`, `AuthProfile`, …) instead of anonymous shapes.
 * Request bodies are rendered as zod *inputs* (defaults optional), responses as *outputs*; a
 * schema nested in a named one is referenced when it is named too, inlined otherwise.
 */
const responseSchemas = {
  Agent,
  CreatedAgent,
  AgentList,
  InputArg,
  Runner,
  SigningSecret,
  ApiKey,
  CreatedApiKey,
  ApiKeyList,
  AuthProfile: ProfileMetadata,
  AuthProfileList: ProfileList,
  CreateAgentAuthProfileResponse: CreateProfileResponse,
  UpsertAgentAuthProfileResponse: UpsertProfileResponse,
  AuthProfileWithToken: NativeProfileResponse,
  ProxyResponse,
  TestAuthProfileResponse: TestProfileResponse,
  RunAgentResponse,
  Run: RunStatus,
  RotatedAuthProfile: RotateProfileResponse,
  AuthProfileUsage: ProfileUsage,
  AuditPage,
  Error: ErrorBody,
  Health: z.object({ status: z.literal('ok') }),
} as const;

const requestSchemas = {
  CreateAgentRequest: CreateAgentBody,
  UpdateAgentRequest: UpdateAgentBody,
  CreateApiKeyRequest: CreateApiKeyBody,
  CreateAgentAuthProfileRequest: CreateProfileBody,
  UpsertAgentAuthProfileRequest: UpsertProfileBody,
  CreateAuthProfileRequest: NativeCreateProfileBody,
  PutAuthProfileRequest: NativePutProfileBody,
  ProxyRequest: ProxyBody,
  GrantProxyRequest: GrantProxyBody,
  TestAuthProfileRequest: TestProfileBody,
  PatchAuthProfileRequest: PatchProfileBody,
  RotateAuthProfileRequest: RotateProfileBody,
  ShareAuthProfileRequest: ShareProfileBody,
  RunAgentRequest: RunAgentBody,
} as const;

type ResponseName = keyof typeof responseSchemas;
type RequestName = keyof typeof requestSchemas;

/** Tags group operations in documentation and in generated clients (one client class per tag). */
const tags = [
  { name: 'auth-profiles', description: 'Auth profiles: credentials sealed under a token only the caller holds' },
  { name: 'agents', description: 'Agents: their input arguments and their runner' },
  { name: 'api-keys', description: "API keys: the tenant's principals (admin or member); admin only" },
  { name: 'runs', description: 'Running an agent with a profile, and run status' },
  { name: 'audit', description: 'The audit log: every change to a profile and every use of one' },
  { name: 'meta', description: 'Public, storage-free endpoints' },
] as const;
type Tag = (typeof tags)[number]['name'];

interface Operation {
  /** Readable, unique, camelCase: generated clients name their methods after it. */
  readonly operationId: string;
  readonly tag: Tag;
  readonly summary: string;
  /** Longer text (CommonMark) where the summary cannot say enough, e.g. a documented time bound. */
  readonly description?: string;
  readonly body?: RequestName;
  /** Another accepted body (oneOf), e.g. the proxy's with a run grant. */
  readonly altBody?: RequestName;
  /** Security other than the document's default (API key). */
  readonly security?: Record<string, never[]>[];
  readonly response?: ResponseName;
  readonly status: number;
  readonly public?: boolean;
  readonly query?: Record<string, string>;
}

/** The documented revocation bound (shared/services/api-keys.ts AUTH_CACHE_TTL_MS). */
const REVOCATION_BOUND =
  'Revocation bound: the key item is deleted first (authentication reads it strongly consistent), so the key is refused on its next request by the process that revoked it — locally, the one server: at once. ' +
  'Each process caches a known key for at most 5 seconds, so on AWS another warm Lambda instance may still accept a revoked key for up to 5 s after this call answered 204.';

const page = { limit: 'Page size, an integer 1-100 (default 50)', cursor: 'next_cursor of the previous page' };

/** Documentation of every route; `routes` (shared/http/routes.ts) decides which exist. */
const operations: Record<string, Operation> = {
  'POST /api/create_agent_auth_profile': { operationId: 'createAgentAuthProfile', tag: 'auth-profiles', summary: 'Create an auth profile; returns its auth token once', body: 'CreateAgentAuthProfileRequest', response: 'CreateAgentAuthProfileResponse', status: 200 },
  'POST /api/upsert_agent_auth_profile': { operationId: 'upsertAgentAuthProfile', tag: 'auth-profiles', summary: 'Create, replace (new token) or update in place (same token) an auth profile', body: 'UpsertAgentAuthProfileRequest', response: 'UpsertAgentAuthProfileResponse', status: 200 },
  'POST /run_agent': { operationId: 'runAgent', tag: 'runs', summary: "Run an agent with a profile's credentials", body: 'RunAgentRequest', response: 'RunAgentResponse', status: 200 },
  'POST /api/run_agent': { operationId: 'runAgentAlias', tag: 'runs', summary: 'Alias of POST /run_agent', body: 'RunAgentRequest', response: 'RunAgentResponse', status: 200 },
  'POST /v1/agents': { operationId: 'createAgent', tag: 'agents', summary: 'Register an agent; returns its runner signing secret once', body: 'CreateAgentRequest', response: 'CreatedAgent', status: 201 },
  'GET /v1/agents': { operationId: 'listAgents', tag: 'agents', summary: 'List agents', response: 'AgentList', status: 200, query: page },
  'GET /v1/agents/{agent_id}': { operationId: 'getAgent', tag: 'agents', summary: 'Read an agent', response: 'Agent', status: 200 },
  'PUT /v1/agents/{agent_id}': { operationId: 'updateAgent', tag: 'agents', summary: "Replace an agent's definition", body: 'UpdateAgentRequest', response: 'Agent', status: 200 },
  'DELETE /v1/agents/{agent_id}': { operationId: 'deleteAgent', tag: 'agents', summary: 'Delete an agent (409 while it has profiles unless ?force=true)', status: 204, query: { force: 'true deletes its profiles too' } },
  'POST /v1/agents/{agent_id}/rotate-signing-secret': { operationId: 'rotateAgentSigningSecret', tag: 'agents', summary: 'Issue a new runner signing secret', response: 'SigningSecret', status: 200 },
  'POST /v1/api-keys': { operationId: 'createApiKey', tag: 'api-keys', summary: 'Mint an API key (admin only; 403 forbidden for a member); the key is shown once', body: 'CreateApiKeyRequest', response: 'CreatedApiKey', status: 201 },
  'GET /v1/api-keys': { operationId: 'listApiKeys', tag: 'api-keys', summary: "List the tenant's API keys: key_id, name, role (admin only; never a secret)", response: 'ApiKeyList', status: 200, query: page },
  'DELETE /v1/api-keys/{key_id}': { operationId: 'revokeApiKey', tag: 'api-keys', summary: 'Revoke an API key (admin only): refused at once by this vault instance, within 5 s by every other', description: REVOCATION_BOUND, status: 204 },
  'GET /v1/agents/{agent_id}/auth-profiles': { operationId: 'listAgentAuthProfiles', tag: 'auth-profiles', summary: "List an agent's auth profiles (metadata only)", response: 'AuthProfileList', status: 200, query: page },
  'POST /v1/agents/{agent_id}/auth-profiles': { operationId: 'createAuthProfile', tag: 'auth-profiles', summary: 'Create an auth profile (custom or typed: bearer, basic, api_key, oauth2_client_credentials); returns its auth token once; 409 if the name exists', body: 'CreateAuthProfileRequest', response: 'AuthProfileWithToken', status: 201 },
  'PUT /v1/agents/{agent_id}/auth-profiles/{name}': { operationId: 'putAuthProfile', tag: 'auth-profiles', summary: 'Upsert by name: create, replace (new token) or, with auth_token, update in place (same token)', body: 'PutAuthProfileRequest', response: 'AuthProfileWithToken', status: 200 },
  'POST /v1/agents/{agent_id}/auth-profiles/{name}/test': { operationId: 'testAuthProfile', tag: 'auth-profiles', summary: 'Make one real call with the credentials injected; answers ok/status/latency (never the body) and stores last_tested_at / last_test_ok', body: 'TestAuthProfileRequest', response: 'TestAuthProfileResponse', status: 200 },
  'POST /v1/proxy': { operationId: 'proxyRequest', tag: 'auth-profiles', summary: "Send a request with a typed profile's credentials injected (the caller never holds them); allowed_hosts/paths/methods enforced (403/405), SSRF guard, no redirects, secret values redacted from the answer", body: 'ProxyRequest', altBody: 'GrantProxyRequest', security: [{ bearer: [] }, { apiKeyHeader: [] }, { runGrant: [] }], response: 'ProxyResponse', status: 200 },
  'GET /v1/agents/{agent_id}/auth-profiles/{name}': { operationId: 'getAgentAuthProfile', tag: 'auth-profiles', summary: 'Read auth profile metadata (never values)', response: 'AuthProfile', status: 200 },
  'PATCH /v1/agents/{agent_id}/auth-profiles/{name}': { operationId: 'patchAuthProfile', tag: 'auth-profiles', summary: 'Edit non-secret settings (active, description, allowed source IPs, outbound policy); no token needed', body: 'PatchAuthProfileRequest', response: 'AuthProfile', status: 200 },
  'DELETE /v1/agents/{agent_id}/auth-profiles/{name}': { operationId: 'deleteAgentAuthProfile', tag: 'auth-profiles', summary: 'Delete an auth profile; its token dies at once (409 profile_in_use with the usage summary if used recently or a run may be in flight, unless ?force=true)', status: 204, query: { force: 'true deletes a profile in use' } },
  'POST /v1/agents/{agent_id}/auth-profiles/{name}/rotate': { operationId: 'rotateAuthProfile', tag: 'auth-profiles', summary: 'New token (generation + 1) for the same values; the old token and its session die at once', body: 'RotateAuthProfileRequest', response: 'RotatedAuthProfile', status: 200 },
  'POST /v1/agents/{agent_id}/auth-profiles/{name}/share': { operationId: 'shareAuthProfile', tag: 'auth-profiles', summary: 'Grant a principal (an API key id or "role:member") read or read_write on the profile (read_write needed; 409 on a concurrent settings or access change)', body: 'ShareAuthProfileRequest', response: 'AuthProfile', status: 200 },
  'DELETE /v1/agents/{agent_id}/auth-profiles/{name}/share/{principal}': { operationId: 'unshareAuthProfile', tag: 'auth-profiles', summary: "Remove a principal's grant (read_write needed); private again once none is left", response: 'AuthProfile', status: 200 },
  'GET /v1/agents/{agent_id}/auth-profiles/{name}/usage': { operationId: 'getAuthProfileUsage', tag: 'auth-profiles', summary: 'Usage counters and the last 50 uses (refusals included)', response: 'AuthProfileUsage', status: 200 },
  'GET /v1/audit': { operationId: 'listAuditRecords', tag: 'audit', summary: 'The audit log, newest first: every change (API keys and sharing included) and every use, refusals included', description: 'An admin key reads every view. A member key reads only the view of one profile it may read (agent_id and profile both given; otherwise the unknown-profile 404); the tenant and agent views answer it 403 forbidden. API-key events (api_key_create, api_key_revoke) have no agent and appear in the tenant view only.', response: 'AuditPage', status: 200, query: { agent_id: 'Only this agent', profile: 'Only this profile (needs agent_id)', action: 'Only this action', since: 'ISO time: records at or after it', ...page } },
  'GET /v1/runs/{session_id}': { operationId: 'getRun', tag: 'runs', summary: 'Status and result of a run', response: 'Run', status: 200 },
  'GET /openapi.json': { operationId: 'getOpenApiDocument', tag: 'meta', summary: 'This document', status: 200, public: true },
  'GET /healthz': { operationId: 'getHealth', tag: 'meta', summary: 'Liveness', response: 'Health', status: 200, public: true },
};

const ref = (name: ResponseName | RequestName) => ({ $ref: `#/components/schemas/${name}` });

/** Renders one set of named schemas; `$ref`s between them point into components.schemas. */
function componentSchemas(named: Readonly<Record<string, z.ZodType>>, io: 'input' | 'output'): Record<string, unknown> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(named)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { io, unrepresentable: 'any', uri: (id) => `#/components/schemas/${id}` });
  // Each rendered schema carries `$schema`/`$id`; inside an OpenAPI 3.1 document the dialect is
  // the document's own and an `$id` would change how its `$ref`s resolve, so both go.
  const out: Record<string, unknown> = {};
  for (const [id, { $schema: _s, $id: _i, ...rest }] of Object.entries(schemas)) out[id] = rest;
  return out;
}

function operation(r: RouteDef, op: Operation) {
  const params: Record<string, unknown>[] = [...r.path.matchAll(/\{([a-z_]+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
  for (const [name, description] of Object.entries(op.query ?? {})) params.push({ name, in: 'query', required: false, schema: { type: 'string' }, description });
  const error = { $ref: '#/components/responses/Error' };
  return {
    operationId: op.operationId,
    tags: [op.tag],
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    ...(params.length ? { parameters: params } : {}),
    ...(op.public ? { security: [] } : op.security ? { security: op.security } : {}),
    ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: op.altBody ? { oneOf: [ref(op.body), ref(op.altBody)] } : ref(op.body) } } } } : {}),
    responses: {
      [op.status]: op.response ? { description: 'Success', content: { 'application/json': { schema: ref(op.response) } } } : { description: 'Success' },
      '4XX': error,
      '5XX': error,
    },
  };
}

/**
 * Builds the OpenAPI 3.1 document from the route table and the zod schemas. `serverUrl` (when
 * known) is listed first; the relative server `/` always works for the vault serving the document.
 */
export function buildOpenApi(serverUrl?: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    if (r.documented === false) continue;
    const op = operations[routeKey(r)];
    if (!op) throw new Error(`route ${routeKey(r)} has no OpenAPI operation`);
    paths[r.path] ??= {};
    (paths[r.path] as Record<string, unknown>)[r.method.toLowerCase()] = operation(r, op);
  }
  return {
    openapi: '3.1.0',
    info: { title: 'agent-vault', version: '1.0.0', description: 'Credential vault for AI agents: auth profiles encrypted under a key derived from a token only the caller holds.' },
    servers: [
      ...(serverUrl ? [{ url: serverUrl }] : []),
      { url: '/', description: 'The vault serving this document' },
      { url: 'http://127.0.0.1:3000', description: 'A local vault started with npm start (default PORT)' },
    ],
    tags,
    security: [{ bearer: [] }, { apiKeyHeader: [] }],
    components: {
      schemas: { ...componentSchemas(responseSchemas, 'output'), ...componentSchemas(requestSchemas, 'input') },
      responses: {
        Error: { description: 'Error: `{"error":{"code","message"}}`', content: { 'application/json': { schema: ref('Error') } } },
      },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'Tenant API key (avk_…)' },
        apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
        runGrant: { type: 'http', scheme: 'bearer', description: 'Run grant (avg_…) a runner of an agent with credential_delivery "proxy" receives; POST /v1/proxy only, while its run runs' },
      },
    },
    paths,
  };
}
