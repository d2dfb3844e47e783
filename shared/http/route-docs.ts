/**
 * The OpenAPI operation of each route of the table (shared/http/routes.ts): operationId, summary,
 * description, success status and answer schema, the specific error codes, query parameter docs
 * and examples. Only the document (shared/schemas/openapi.ts, served by the meta function) reads
 * them, so they live apart from the table: the other functions' bundles carry neither these texts
 * nor the answer schemas (docs/architecture.md, "How it runs"). A route without an operation here
 * is not in the document (the console's static files); test/infra/route-table.test.ts checks
 * that every other route has one.
 */
import type * as z from '../schemas/zod.ts';
import { Agent, AgentList, CreatedAgent, SigningSecret } from '../schemas/agents.ts';
import { ApiKeyList, CreatedApiKey } from '../schemas/api-keys.ts';
import { AuditPage } from '../schemas/audit.ts';
import { ProfileUsage, RotateProfileResponse } from '../schemas/lifecycle.ts';
import {
  ConnectResponse,
  CreateProfileResponse,
  DisconnectResponse,
  NativeProfileResponse,
  ProfileList,
  ProfileMetadata,
  UpsertProfileResponse,
} from '../schemas/profiles.ts';
import { ProxyResponse, TestProfileResponse } from '../schemas/proxy.ts';
import { RunAgentResponse, RunStatus } from '../schemas/runs.ts';
import { CreatedWebhook, DeliveryPage, TestEventResponse, Webhook, WebhookList, WebhookSecret } from '../schemas/webhooks.ts';
import { EXAMPLES } from './route-examples.ts';
import { Health, type RouteDef, type RouteKey, routeList } from './routes.ts';

/** One error answer an operation documents: its status and the codes it can carry. */
export type ErrorStatuses = Readonly<
  Partial<Record<400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 429 | 500 | 501 | 502 | 503 | 504, readonly string[]>>
>;

/** The OpenAPI operation of a route (shared/schemas/openapi.ts renders it). */
export interface Operation {
  /** Readable, unique, camelCase: generated clients name their methods after it. */
  readonly operationId: string;
  readonly tag: 'auth-profiles' | 'agents' | 'api-keys' | 'runs' | 'audit' | 'webhooks' | 'meta';
  readonly summary: string;
  /** Longer text (CommonMark): what the operation does, for whom, and its notable answers. */
  readonly description: string;
  /** Success status and body schema (a named component of shared/schemas/openapi.ts). */
  readonly status: number;
  readonly response?: z.ZodMiniType;
  /** The specific error statuses and codes this route can answer (besides the common ones). */
  readonly errors: ErrorStatuses;
  /** Query parameter descriptions (the query schema decides which exist). */
  readonly queryDocs?: Readonly<Record<string, string>>;
  /**
   * A request body (every route with a body) and a success answer (every route that answers one), as
   * a user would send and see them: the document shows both, and test/unit/schemas/openapi.test.ts
   * parses them with the route's schemas. `{}` for a route that takes no body and answers 204.
   */
  readonly examples: { readonly request?: unknown; readonly response?: unknown };
}

// Error codes the operations share. Every authenticated route can also answer 401 unauthorized,
// 429 too_many_requests and 503 service_unavailable (added by the document for every operation).
const BODY_ERRORS = {
  400: ['validation_error', 'unknown_field', 'invalid_json'],
  413: ['payload_too_large'],
  415: ['unsupported_media_type'],
} as const;
const QUERY_ERRORS = { 400: ['validation_error', 'unknown_field'] } as const;
const AGENT_404 = { 404: ['agent_not_found'] } as const;
const PROFILE_404 = { 404: ['agent_not_found', 'profile_not_found'] } as const;
const USE_ERRORS = {
  400: ['validation_error', 'unknown_field', 'invalid_json', 'invalid_auth_token'],
  401: ['unauthorized', 'token_expired'],
  403: ['profile_inactive', 'source_ip_not_allowed'],
  404: ['agent_not_found', 'profile_not_found'],
  409: ['reauthorization_required'],
  413: ['payload_too_large'],
  415: ['unsupported_media_type'],
  503: ['service_unavailable', 'audit_unavailable'],
} as const;
/** The compatible routes answer a token in another format as an unknown one, 404 (docs/api.md, "Kura drop-in"). */
const COMPATIBLE_USE_400 = USE_ERRORS[400].filter((c) => c !== 'invalid_auth_token');
/** POST /run_agent and its /api alias answer the same errors. */
const RUN_AGENT_ERRORS = {
  ...USE_ERRORS,
  400: [...COMPATIBLE_USE_400, 'unknown_input_args', 'parameter_conflict', 'missing_input_args', 'not_injectable'],
  409: ['runner_changed', 'delivery_changed', 'run_conflict', 'reauthorization_required'],
};
const OUTBOUND_ERRORS = {
  403: [
    'profile_inactive',
    'source_ip_not_allowed',
    'proxy_not_configured',
    'host_not_allowed',
    'path_not_allowed',
    'destination_blocked',
    'token_url_not_proxied',
  ],
  405: ['method_not_allowed_by_profile'],
  502: ['bad_gateway', 'upstream_unreachable', 'upstream_bad_encoding', 'upstream_response_too_large', 'oauth_token_failed'],
  504: ['upstream_timeout'],
} as const;
const page = { limit: 'Page size, an integer 1-100 (default 50)', cursor: 'next_cursor of the previous page' };
const profileFilterDocs = {
  q: 'Name contains this text (case-insensitive)',
  auth_type: 'Only this type: custom, bearer, basic, api_key, oauth2_client_credentials, …',
  visibility: 'private or shared',
  token_state: 'valid, expiring_soon (less than 24 h left) or expired',
  connection_state: 'OAuth 2.0 authorization-code profiles: pending, connected, needs_reauth or disconnected',
  active: 'true or false',
  end_user_id: "The platform's end-user id (exact)",
  ...page,
};
const PROFILE_LIST_DESCRIPTION =
  'Every filter given must match. Filters apply to what the calling key may read (a member never learns of a profile it cannot read), after each read of the table, so a page may hold fewer than `limit` profiles — even none — while `next_cursor` goes on; keep paging until it is absent. A filter value outside its list is 400 validation_error naming the allowed values; an unknown parameter is 400 unknown_field.';
const PROFILE_EXAMPLE = {
  agent_id: 'crm-bot',
  name: 'github-main',
  fields: ['token'],
  auth_type: 'bearer',
  generation: 1,
  record_version: 1,
  should_save_session: false,
  created_at: '2026-01-05T10:00:00.000Z',
  updated_at: '2026-01-05T10:00:00.000Z',
  use_count: 3,
  active: true,
  token_state: 'valid',
  allowed_source_ips: [],
  uses_last_7_days: { run: 2, proxy: 1, test: 0 },
  owner: '3f9a0c1d2e4b5a69',
  visibility: 'private',
  grants: [],
};

/** The documented revocation bound (shared/services/api-keys.ts AUTH_CACHE_TTL_MS). */
const REVOCATION_BOUND =
  'Revocation bound: the key item is deleted first (authentication reads it strongly consistent), so the key is refused on its next request by the process that revoked it — locally, the one server: at once. ' +
  'Each process caches a known key for at most 5 seconds, so on AWS another warm Lambda instance may still accept a revoked key for up to 5 s after this call answered 204.';

/** The operation of each documented route, by route key, in table order. */
export const operations: { readonly [K in RouteKey]?: Operation } = {
  'POST /api/create_agent_auth_profile': {
    operationId: 'createAgentAuthProfile',
    tag: 'auth-profiles',
    summary: 'Create an auth profile; returns its auth token once',
    description:
      'The compatible create (the public create_agent_auth_profile shape): seals auth_data under a fresh token and answers it once; the vault never stores the token. 409 profile_exists when the agent already has a profile of that name (upsert replaces one). warnings lists required input arguments of the agent the profile lacks (pass them in parameters at run time).',
    examples: EXAMPLES.createAgentAuthProfile,
    status: 200,
    response: CreateProfileResponse,
    errors: { ...BODY_ERRORS, 400: [...BODY_ERRORS[400], 'unknown_input_args'], ...AGENT_404, 409: ['profile_exists'] },
  },
  'POST /api/upsert_agent_auth_profile': {
    operationId: 'upsertAgentAuthProfile',
    tag: 'auth-profiles',
    summary: 'Create, replace (new token) or update in place (same token) an auth profile',
    examples: EXAMPLES.upsertAgentAuthProfile,
    description:
      'Replacing or updating needs read_write on the profile (its owner, an admin, or a read_write grant); without read the answer is the unknown-profile 404, with read only a 403.',
    status: 200,
    response: UpsertProfileResponse,
    errors: { ...BODY_ERRORS, 400: [...BODY_ERRORS[400], 'unknown_input_args'], 403: ['forbidden'], ...PROFILE_404, 409: ['conflict'] },
  },
  'POST /run_agent': {
    operationId: 'runAgent',
    tag: 'runs',
    summary: "Run an agent with a profile's credentials",
    description:
      'Runs the agent with the profile\'s credentials merged into parameters (or, for an agent with credential_delivery "proxy", a run grant instead of them). run_async true (the default) answers at once with the run\'s URL; false waits for the runner and answers its output. A token that finds no profile, in whatever format, is 404 profile_not_found (docs/api.md, "Kura drop-in").',
    examples: EXAMPLES.runAgent,
    status: 200,
    response: RunAgentResponse,
    errors: RUN_AGENT_ERRORS,
  },
  'POST /api/run_agent': {
    operationId: 'runAgentAlias',
    tag: 'runs',
    summary: 'Alias of POST /run_agent',
    description: 'The same operation as POST /run_agent, under the /api prefix of the other compatible routes.',
    examples: EXAMPLES.runAgentAlias,
    status: 200,
    response: RunAgentResponse,
    errors: RUN_AGENT_ERRORS,
  },
  'POST /v1/agents': {
    operationId: 'createAgent',
    tag: 'agents',
    summary: 'Register an agent (owned by the calling key); returns its runner signing secret once',
    description:
      "Registers an agent: its input arguments (what a profile's auth_data and a run's parameters fill) and its runner (a webhook the vault calls, signing each call). The calling key owns it. The runner signing secret is in this answer only.",
    examples: EXAMPLES.createAgent,
    status: 201,
    response: CreatedAgent,
    errors: { ...BODY_ERRORS, 400: [...BODY_ERRORS[400], 'runner_not_allowed'], 409: ['agent_exists'] },
  },
  'GET /v1/agents': {
    operationId: 'listAgents',
    tag: 'agents',
    summary: 'List agents',
    description: "Lists the tenant's agents, a page at a time (limit, then next_cursor as cursor).",
    examples: EXAMPLES.listAgents,
    status: 200,
    response: AgentList,
    errors: QUERY_ERRORS,
    queryDocs: page,
  },
  'GET /v1/agents/{agent_id}': {
    operationId: 'getAgent',
    tag: 'agents',
    summary: 'Read an agent',
    description: 'Reads one agent; any key of the tenant may.',
    examples: EXAMPLES.getAgent,
    status: 200,
    response: Agent,
    errors: { ...QUERY_ERRORS, ...AGENT_404 },
  },
  'PUT /v1/agents/{agent_id}': {
    operationId: 'updateAgent',
    tag: 'agents',
    summary: "Replace an agent's definition (its owner or an admin); credential_delivery left out keeps the stored one",
    description:
      'Replaces the name, description, input arguments, runner and credential delivery of an agent. A runner moved to another origin makes its profiles answer 409 runner_changed until their token holders write them again. Its owner or an admin.',
    examples: EXAMPLES.updateAgent,
    status: 200,
    response: Agent,
    errors: { ...BODY_ERRORS, 400: [...BODY_ERRORS[400], 'runner_not_allowed'], 403: ['forbidden'], ...AGENT_404, 409: ['conflict'] },
  },
  'DELETE /v1/agents/{agent_id}': {
    operationId: 'deleteAgent',
    tag: 'agents',
    summary:
      'Delete an agent (its owner or an admin; 409 while it has profiles unless ?force=true, which needs read_write on every one of them)',
    description:
      'Deletes an agent. While it has profiles the answer is 409 agent_has_profiles, unless force=true, which deletes them too (needing read_write on each). Its owner or an admin.',
    examples: EXAMPLES.deleteAgent,
    status: 204,
    errors: { ...QUERY_ERRORS, 403: ['forbidden'], ...AGENT_404, 409: ['agent_has_profiles'] },
    queryDocs: { force: 'true deletes its profiles too (needs read_write on each)' },
  },
  'POST /v1/agents/{agent_id}/rotate-signing-secret': {
    operationId: 'rotateAgentSigningSecret',
    tag: 'agents',
    summary: 'Issue a new runner signing secret (its owner or an admin)',
    description: 'Issues a new runner signing secret; the old one stops signing at once. The new secret is in this answer only.',
    examples: EXAMPLES.rotateAgentSigningSecret,
    status: 200,
    response: SigningSecret,
    errors: { ...BODY_ERRORS, 403: ['forbidden'], ...AGENT_404, 409: ['conflict'] },
  },
  'POST /v1/api-keys': {
    operationId: 'createApiKey',
    tag: 'api-keys',
    summary: 'Mint an API key (admin only; 403 forbidden for a member); the key is shown once',
    description:
      'Mints an API key of the tenant: a member (the default) or an admin. The key itself is in this answer only; listings show its key_id.',
    examples: EXAMPLES.createApiKey,
    status: 201,
    response: CreatedApiKey,
    errors: { ...BODY_ERRORS, 403: ['forbidden'] },
  },
  'GET /v1/api-keys': {
    operationId: 'listApiKeys',
    tag: 'api-keys',
    summary: "List the tenant's API keys: key_id, name, role (admin only; never a secret)",
    description: "Lists the tenant's API keys by key_id, name and role; never a secret or hash.",
    examples: EXAMPLES.listApiKeys,
    status: 200,
    response: ApiKeyList,
    errors: { ...QUERY_ERRORS, 403: ['forbidden'] },
    queryDocs: page,
  },
  'DELETE /v1/api-keys/{key_id}': {
    operationId: 'revokeApiKey',
    tag: 'api-keys',
    summary: 'Revoke an API key (admin only): refused at once by this vault instance, within 5 s by every other',
    examples: EXAMPLES.revokeApiKey,
    description: REVOCATION_BOUND,
    status: 204,
    errors: { ...QUERY_ERRORS, 403: ['forbidden'], 404: ['api_key_not_found'] },
  },
  'POST /v1/webhooks': {
    operationId: 'createWebhook',
    tag: 'webhooks',
    summary: 'Subscribe a URL to events (admin only); answers its signing secret once',
    description:
      'Events: `connection.connected`, `connection.needs_reauth`, `connection.refresh_failed`, `connection.recovered`, `profile.deleted`. Each delivery is a signed POST (`X-Agent-Vault-Signature: t=<unix>,v1=<hex HMAC-SHA256(signing_secret, t + "." + body)>`, the runner-call scheme), sent at least once with bounded retries and exponential backoff. The URL follows the runner rules: https when deployed, no loopback or private address there, the host on `VAULT_ALLOWED_WEBHOOK_HOSTS` when set. At most 20 webhooks per tenant.',
    status: 201,
    response: CreatedWebhook,
    errors: { ...BODY_ERRORS, 403: ['forbidden'], 409: ['webhook_limit_reached'] },
    examples: {
      request: {
        url: 'https://hooks.example.com/agent-vault',
        events: ['profile.deleted', 'connection.needs_reauth'],
        description: 'ops alerts',
      },
      response: {
        webhook_id: 'wh_3qk9XbV1mPz0aLw2',
        url: 'https://hooks.example.com/agent-vault',
        events: ['profile.deleted', 'connection.needs_reauth'],
        description: 'ops alerts',
        active: true,
        created_by: '5f1c0a9e2b7d4c31',
        created_at: '2026-12-06T15:00:00.000Z',
        updated_at: '2026-12-06T15:00:00.000Z',
        signing_secret: 'avw_…',
      },
    },
  },
  'GET /v1/webhooks': {
    operationId: 'listWebhooks',
    tag: 'webhooks',
    summary: "List the tenant's webhooks (admin only; never a secret)",
    description:
      "Pages through the tenant's webhooks in creation order (limit, cursor). Answers each webhook's URL, events, description, active flag and who created it, never its signing secret.",
    status: 200,
    response: WebhookList,
    errors: { ...QUERY_ERRORS, 403: ['forbidden'] },
    queryDocs: page,
    examples: {
      response: {
        webhooks: [
          {
            webhook_id: 'wh_3qk9XbV1mPz0aLw2',
            url: 'https://hooks.example.com/agent-vault',
            events: ['profile.deleted'],
            active: true,
            created_by: '5f1c0a9e2b7d4c31',
            created_at: '2026-12-06T15:00:00.000Z',
            updated_at: '2026-12-06T15:00:00.000Z',
          },
        ],
      },
    },
  },
  'GET /v1/webhooks/{webhook_id}': {
    operationId: 'getWebhook',
    tag: 'webhooks',
    summary: 'Read a webhook (admin only; never its secret)',
    description:
      "Answers the webhook's URL, events, description, active flag and times; the signing secret is shown only when the webhook is created or its secret rotated.",
    status: 200,
    response: Webhook,
    errors: { ...QUERY_ERRORS, 403: ['forbidden'], 404: ['webhook_not_found'] },
    examples: {
      response: {
        webhook_id: 'wh_3qk9XbV1mPz0aLw2',
        url: 'https://hooks.example.com/agent-vault',
        events: ['profile.deleted'],
        active: true,
        created_by: '5f1c0a9e2b7d4c31',
        created_at: '2026-12-06T15:00:00.000Z',
        updated_at: '2026-12-06T15:00:00.000Z',
      },
    },
  },
  'PATCH /v1/webhooks/{webhook_id}': {
    operationId: 'updateWebhook',
    tag: 'webhooks',
    summary: 'Change the URL, events, description or active flag of a webhook (admin only; 409 on a concurrent change)',
    description:
      'Sends only the fields to change; `description: null` removes it, `active: false` pauses deliveries (events are not queued while inactive). The URL is checked against the runner rules again. Audited before the change.',
    status: 200,
    response: Webhook,
    errors: { ...BODY_ERRORS, 403: ['forbidden'], 404: ['webhook_not_found'], 409: ['conflict'] },
    examples: {
      request: { events: ['profile.deleted', 'connection.refresh_failed'], active: true },
      response: {
        webhook_id: 'wh_3qk9XbV1mPz0aLw2',
        url: 'https://hooks.example.com/agent-vault',
        events: ['profile.deleted', 'connection.refresh_failed'],
        active: true,
        created_by: '5f1c0a9e2b7d4c31',
        created_at: '2026-12-06T15:00:00.000Z',
        updated_at: '2026-12-06T15:05:00.000Z',
      },
    },
  },
  'DELETE /v1/webhooks/{webhook_id}': {
    operationId: 'deleteWebhook',
    tag: 'webhooks',
    summary: 'Delete a webhook (admin only); pending deliveries fail as webhook_deleted, its delivery log expires with its retention',
    description:
      'Removes the subscription at once: no new event is queued for it and its pending deliveries end as `webhook_deleted`. Audited before the change.',
    status: 204,
    errors: { ...QUERY_ERRORS, 403: ['forbidden'], 404: ['webhook_not_found'] },
    examples: {},
  },
  'POST /v1/webhooks/{webhook_id}/rotate-secret': {
    operationId: 'rotateWebhookSecret',
    tag: 'webhooks',
    summary: 'Issue a new signing secret (admin only), answered once; every later attempt is signed with it alone',
    description:
      'Answers the new `avw_…` secret once; the old one stops signing at once (update the receiver first, or accept both while you switch). Audited before the change.',
    status: 200,
    response: WebhookSecret,
    errors: { ...BODY_ERRORS, 403: ['forbidden'], 404: ['webhook_not_found'], 409: ['conflict'] },
    examples: { response: { webhook_id: 'wh_3qk9XbV1mPz0aLw2', signing_secret: 'avw_…' } },
  },
  'GET /v1/webhooks/{webhook_id}/deliveries': {
    operationId: 'listWebhookDeliveries',
    tag: 'webhooks',
    summary: "A webhook's delivery log, newest first: event id and type, attempts, last status code, outcome, times (never the payload)",
    description:
      'Entries are kept for `VAULT_WEBHOOK_DELIVERY_RETENTION_DAYS` (default 7). `status`: `pending` (attempts left; `next_attempt_at` says when), `delivered`, or `failed` (gave up; `outcome` says why).',
    status: 200,
    response: DeliveryPage,
    errors: { ...QUERY_ERRORS, 403: ['forbidden'], 404: ['webhook_not_found'] },
    queryDocs: page,
    examples: {
      response: {
        deliveries: [
          {
            delivery_id: 'dlv_0193a1b2c3d4e5f60718293a',
            event_id: 'evt_Qm9yZS1yYW5kb20tYnl0ZXM',
            event_type: 'profile.deleted',
            status: 'delivered',
            attempts: 2,
            max_attempts: 5,
            last_status_code: 200,
            outcome: 'delivered',
            created_at: '2026-12-06T15:10:00.000Z',
            last_attempt_at: '2026-12-06T15:10:02.100Z',
            finished_at: '2026-12-06T15:10:02.180Z',
          },
        ],
      },
    },
  },
  'POST /v1/webhooks/{webhook_id}/test': {
    operationId: 'sendWebhookTestEvent',
    tag: 'webhooks',
    summary:
      'Queue a `webhook.test` event to this webhook through the normal delivery path (admin only); its outcome shows in the delivery log',
    description:
      'Queues one `webhook.test` event (ids only, no credential) to this webhook through the same signed, retried delivery path as real events; check its outcome with GET …/deliveries.',
    status: 202,
    response: TestEventResponse,
    errors: { ...BODY_ERRORS, 403: ['forbidden'], 404: ['webhook_not_found'], 503: ['service_unavailable', 'audit_unavailable'] },
    examples: { response: { event_id: 'evt_Qm9yZS1yYW5kb20tYnl0ZXM', delivery_id: 'dlv_0193a1b2c3d4e5f60718293a', status: 'queued' } },
  },
  'GET /v1/agents/{agent_id}/auth-profiles': {
    operationId: 'listAgentAuthProfiles',
    tag: 'auth-profiles',
    summary: "List the agent's auth profiles the calling key may read (metadata only), with search and filters",
    description: `Lists the profiles of an agent that the calling key may read (owner, admin, or a grant), metadata only: field names, type, policy, usage; never a value. ${PROFILE_LIST_DESCRIPTION}`,
    examples: EXAMPLES.listAgentAuthProfiles,
    status: 200,
    response: ProfileList,
    errors: { ...QUERY_ERRORS, ...AGENT_404 },
    queryDocs: profileFilterDocs,
  },
  'GET /v1/auth-profiles': {
    operationId: 'listAuthProfiles',
    tag: 'auth-profiles',
    summary: "List the tenant's auth profiles the calling key may read, across agents, in name order (then agent id)",
    description: `${PROFILE_LIST_DESCRIPTION} Served by a Query of the table's name index (never a scan); each entry carries its agent_id.`,
    status: 200,
    response: ProfileList,
    errors: QUERY_ERRORS,
    queryDocs: { agent_id: 'Only this agent', ...profileFilterDocs },
    examples: { response: { profiles: [PROFILE_EXAMPLE], next_cursor: 'eyJwayI6Ii4uLiJ9' } },
  },
  'POST /v1/agents/{agent_id}/auth-profiles': {
    operationId: 'createAuthProfile',
    tag: 'auth-profiles',
    summary:
      'Create an auth profile (custom or typed: bearer, basic, api_key, oauth2_client_credentials); returns its auth token once; 409 if the name exists',
    description:
      "The native create: a custom or typed profile (bearer, basic, api_key, oauth2_client_credentials) with its outbound policy. Answers 201 with the token (once) and the profile's metadata; 409 profile_exists if the name is taken.",
    examples: EXAMPLES.createAuthProfile,
    status: 201,
    response: NativeProfileResponse,
    errors: { ...BODY_ERRORS, 400: [...BODY_ERRORS[400], 'unknown_input_args'], ...AGENT_404, 409: ['profile_exists'] },
  },
  'PUT /v1/agents/{agent_id}/auth-profiles/{name}': {
    operationId: 'putAuthProfile',
    tag: 'auth-profiles',
    summary: 'Upsert by name: create, replace (new token) or, with auth_token, update in place (same token)',
    description:
      'Upsert by the name in the path: without auth_token, creates the profile or replaces it (new token, the old one dies); with auth_token, updates its values in place (same token). Replacing or updating needs read_write on the profile. A token not in this vault\'s format is 400 invalid_auth_token here (docs/api.md, "Kura drop-in").',
    examples: EXAMPLES.putAuthProfile,
    status: 200,
    response: NativeProfileResponse,
    errors: {
      ...BODY_ERRORS,
      400: [...BODY_ERRORS[400], 'invalid_auth_token', 'unknown_input_args'],
      403: ['forbidden'],
      ...PROFILE_404,
      409: ['conflict'],
    },
  },
  'POST /v1/agents/{agent_id}/auth-profiles/{name}/test': {
    operationId: 'testAuthProfile',
    tag: 'auth-profiles',
    summary:
      'Make one real call with the credentials injected; answers ok/status/latency (never the body) and stores last_tested_at / last_test_ok',
    description:
      "Makes one real call with the profile's credentials injected (for oauth2_client_credentials without a request: a token fetch) and answers whether it worked, its status and latency; never the upstream body. Counted as a test use, not a real one.",
    examples: EXAMPLES.testAuthProfile,
    status: 200,
    response: TestProfileResponse,
    errors: { ...USE_ERRORS, ...OUTBOUND_ERRORS, 400: [...USE_ERRORS[400], 'not_injectable', 'body_not_injectable', 'invalid_header'] },
  },
  'POST /v1/proxy': {
    operationId: 'proxyRequest',
    tag: 'auth-profiles',
    summary:
      "Send a request with a typed profile's credentials injected (the caller never holds them); allowed_hosts/paths/methods enforced (403/405), SSRF guard, no redirects, secret values redacted from the answer",
    description:
      "Sends the request with the profile's credentials injected; the caller never holds them. The profile's allowed_hosts (required), allowed_path_prefixes and allowed_methods are enforced (403/405), private and link-local addresses are refused, redirects are returned rather than followed, and the profile's secret values are replaced by [REDACTED] in the answer. Body: agent_id + auth_token with an API key, or the request only with a run grant.",
    examples: EXAMPLES.proxyRequest,
    status: 200,
    response: ProxyResponse,
    errors: {
      ...USE_ERRORS,
      ...OUTBOUND_ERRORS,
      400: [...USE_ERRORS[400], 'not_injectable', 'body_not_injectable', 'invalid_header', 'invalid_grant_format'],
      401: ['unauthorized', 'token_expired', 'invalid_grant'],
    },
  },
  'GET /v1/agents/{agent_id}/auth-profiles/{name}': {
    operationId: 'getAgentAuthProfile',
    tag: 'auth-profiles',
    summary: 'Read auth profile metadata (never values)',
    description:
      "Reads a profile's metadata (type, config, policy, lifecycle, usage counters, sharing); never a value. Without read access: the unknown-profile 404.",
    examples: EXAMPLES.getAgentAuthProfile,
    status: 200,
    response: ProfileMetadata,
    errors: { ...QUERY_ERRORS, ...PROFILE_404 },
  },
  'PATCH /v1/agents/{agent_id}/auth-profiles/{name}': {
    operationId: 'patchAuthProfile',
    tag: 'auth-profiles',
    summary: 'Edit non-secret settings (active, description, allowed source IPs, outbound policy) or rename the profile; no token needed',
    description:
      'Changes the non-secret settings: active, description, allowed source IPs and the outbound policy; null removes a setting. Needs read_write, no token. ' +
      'A rename (`{"name": "new-name"}`, sent alone) keeps the profile where it lives: its auth token keeps working, its usage and audit history stay with it, and the old name answers 404 from then on. 409 `profile_exists` if another profile has the name, 409 `conflict` if another request changed the profile or took the name meanwhile (read it again and retry). A rename that stopped half-way is invisible: the profile keeps its old name until a rename finishes.',
    examples: EXAMPLES.patchAuthProfile,
    status: 200,
    response: ProfileMetadata,
    errors: {
      ...BODY_ERRORS,
      400: [...BODY_ERRORS[400], 'invalid_source_ips'],
      403: ['forbidden'],
      ...PROFILE_404,
      409: ['conflict', 'profile_exists'],
    },
  },
  'DELETE /v1/agents/{agent_id}/auth-profiles/{name}': {
    operationId: 'deleteAgentAuthProfile',
    tag: 'auth-profiles',
    summary:
      'Delete an auth profile; its token dies at once (409 profile_in_use with the usage summary if used recently or a run may be in flight, unless ?force=true)',
    description:
      'Deletes the profile; its token dies at once. While it is in use (a real use within VAULT_IN_USE_WINDOW_HOURS, or a run that may be in flight) the answer is 409 profile_in_use with the usage summary in error.usage, unless force=true. Needs read_write. ' +
      'An optional JSON body `{"auth_token": "avt_…"}` makes the vault revoke an oauth2_authorization_code profile\'s refresh token at the provider (RFC 7009) before deleting it: only the token holder can read the refresh token. ' +
      'The `X-Revocation` header of the 204 then says `confirmed`, `failed`, `not_configured` (no revocation_url) or `not_connected`. Without the token the profile is deleted and the provider keeps the grant.',
    status: 204,
    errors: {
      ...BODY_ERRORS,
      400: [...BODY_ERRORS[400], 'invalid_auth_token'],
      403: ['forbidden'],
      ...PROFILE_404,
      409: ['profile_in_use', 'conflict'],
    },
    examples: { request: { auth_token: 'avt_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMw' } },
    queryDocs: { force: 'true deletes a profile in use' },
  },
  'POST /v1/agents/{agent_id}/auth-profiles/{name}/rotate': {
    operationId: 'rotateAuthProfile',
    tag: 'auth-profiles',
    summary: 'New token (generation + 1) for the same values; the old token and its session die at once',
    description:
      'Issues a new token (generation + 1) for the same values; the old token and its saved session die at once. The expiry is kept unless expires_in_hours is sent (a number, or null for none).',
    examples: EXAMPLES.rotateAuthProfile,
    status: 200,
    response: RotateProfileResponse,
    errors: { ...BODY_ERRORS, 400: [...BODY_ERRORS[400], 'invalid_auth_token'], 403: ['forbidden'], ...PROFILE_404, 409: ['conflict'] },
  },
  'POST /v1/agents/{agent_id}/auth-profiles/{name}/connect': {
    operationId: 'connectAuthProfile',
    tag: 'auth-profiles',
    summary: "A new single-use connect link (15 minutes) for an oauth2_authorization_code profile, to open in the end user's browser",
    description:
      'The token holder asks for a link and hands it to the end user (no API key is needed to open it). Opening it sends the browser to the provider (authorization code, S256 PKCE, a single-use state); ' +
      "the vault's callback exchanges the code, seals the tokens under the profile's keys, and sends the browser to the profile's return_url with `status=connected` or `status=error&error=…`. " +
      'Use it for the first connection, after `reauthorization_required`, or to connect another account; the link carries key material sealed under its own secret, which is never stored.',
    status: 200,
    response: ConnectResponse,
    errors: { ...BODY_ERRORS, 400: [...BODY_ERRORS[400], 'invalid_auth_token', 'not_connectable'], 403: ['forbidden'], ...PROFILE_404 },
    examples: {
      request: { auth_token: 'avt_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMw' },
      response: { connect_url: 'https://vault.example.com/v1/oauth/connect?link=avc_…', connect_expires_at: '2026-01-01T12:15:00.000Z' },
    },
  },
  'POST /v1/agents/{agent_id}/auth-profiles/{name}/disconnect': {
    operationId: 'disconnectAuthProfile',
    tag: 'auth-profiles',
    summary:
      'Disconnect an oauth2_authorization_code profile: revoke its refresh token at the provider (RFC 7009), remove the sealed tokens; says whether the provider confirmed',
    description:
      'Uses answer 409 `reauthorization_required` afterwards, until the end user connects again through a new connect link. The revocation is attempted when the profile has a `revocation_url`; the tokens are removed whatever its outcome.',
    status: 200,
    response: DisconnectResponse,
    errors: { ...BODY_ERRORS, 400: [...BODY_ERRORS[400], 'invalid_auth_token', 'not_connectable'], 403: ['forbidden'], ...PROFILE_404 },
    examples: {
      request: { auth_token: 'avt_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMw' },
      response: { connection_state: 'disconnected', revocation: 'confirmed' },
    },
  },
  'GET /v1/oauth/connect': {
    operationId: 'openConnectLink',
    tag: 'auth-profiles',
    summary: "Open a connect link (the end user's browser, no API key): 302 to the provider's authorization endpoint",
    description:
      "The `connect_url` of a create or of POST …/connect. Answers 302 to the provider with `response_type=code`, an S256 PKCE challenge, a single-use `state` and the vault's callback as `redirect_uri`. " +
      'A link that is unknown, expired or already used answers an HTML page saying so (400 `connect_link_invalid`); a profile whose URLs the deployment refuses, 400 `connect_not_allowed`.',
    status: 302,
    errors: { 400: ['connect_link_invalid', 'connect_not_allowed', 'unknown_field'], 503: ['service_unavailable'] },
    queryDocs: { link: 'The avc_… link secret (single use)' },
    // A redirect answers no body: where it sends the browser is in the description.
    examples: {},
  },
  'GET /v1/oauth/callback': {
    operationId: 'oauthCallback',
    tag: 'auth-profiles',
    summary: "The OAuth redirect_uri to register at the provider: exchanges the code and sends the end user to the profile's return_url",
    description:
      "Consumes the state, checks `iss` (RFC 9207) when the provider sends it, exchanges the code with the PKCE verifier, seals the tokens under the profile's keys, and answers 302 to return_url with `status=connected`, " +
      'or `status=error&error=<code>` (access_denied, issuer_mismatch, token_exchange_failed, …) — never a token or a code. A state that is unknown, expired, already used or forged answers an HTML page (400 `oauth_state_invalid`).',
    status: 302,
    errors: { 400: ['oauth_state_invalid', 'connect_not_allowed'], 503: ['service_unavailable'] },
    queryDocs: {
      state: 'The avs_… state',
      code: 'The authorization code',
      iss: 'The issuer (RFC 9207)',
      error: 'An RFC 6749 §4.1.2.1 error code',
    },
    // A redirect answers no body: the Location it sends is in the description.
    examples: {},
  },
  'GET /v1/agents/{agent_id}/auth-profiles/{name}/usage': {
    operationId: 'getAuthProfileUsage',
    tag: 'auth-profiles',
    summary: 'Usage counters and the last 50 uses of this profile (since it was created; refusals included)',
    description:
      'Usage counters (total, per kind over the last 7 UTC days) and the last 50 uses of the profile, refusals included: when, what, which key, the result, the caller IP.',
    examples: EXAMPLES.getAuthProfileUsage,
    status: 200,
    response: ProfileUsage,
    errors: { ...QUERY_ERRORS, ...PROFILE_404 },
  },
  'POST /v1/agents/{agent_id}/auth-profiles/{name}/share': {
    operationId: 'shareAuthProfile',
    tag: 'auth-profiles',
    summary:
      'Grant a principal (an API key id or "role:member") read or read_write on the profile (read_write needed; 409 on a concurrent settings or access change)',
    description:
      'Grants a principal — an API key (its key_id) or every member key ("role:member") — read or read_write on the profile. Needs read_write; 409 on a concurrent settings or access change.',
    examples: EXAMPLES.shareAuthProfile,
    status: 200,
    response: ProfileMetadata,
    errors: { ...BODY_ERRORS, 400: [...BODY_ERRORS[400], 'unknown_principal'], 403: ['forbidden'], ...PROFILE_404, 409: ['conflict'] },
  },
  'DELETE /v1/agents/{agent_id}/auth-profiles/{name}/share/{principal}': {
    operationId: 'unshareAuthProfile',
    tag: 'auth-profiles',
    summary: "Remove a principal's grant (read_write needed); private again once none is left",
    description:
      "Removes a principal's grant; the profile is private again once none is left. Needs read_write; 404 grant_not_found for a principal without a grant.",
    examples: EXAMPLES.unshareAuthProfile,
    status: 200,
    response: ProfileMetadata,
    errors: { ...QUERY_ERRORS, 403: ['forbidden'], 404: ['agent_not_found', 'profile_not_found', 'grant_not_found'], 409: ['conflict'] },
  },
  'GET /v1/audit': {
    operationId: 'listAuditRecords',
    tag: 'audit',
    summary: 'The audit log, newest first: every change (agents, API keys and sharing included) and every use, refusals included',
    examples: EXAMPLES.listAuditRecords,
    description:
      'An admin key reads every view. A member key reads only the view of one profile it may read (agent_id and profile both given; otherwise the unknown-profile 404), and only since that profile was created (an earlier profile of the same name is not its history); the tenant and agent views answer it 403 forbidden. API-key events (api_key_create, api_key_revoke) have no agent and appear in the tenant view only.',
    status: 200,
    response: AuditPage,
    errors: { ...QUERY_ERRORS, 403: ['forbidden'], ...PROFILE_404 },
    queryDocs: {
      agent_id: 'Only this agent',
      profile: 'Only this profile (needs agent_id)',
      action: 'Only this action',
      since: 'ISO time: records at or after it',
      ...page,
    },
  },
  'GET /v1/runs/{session_id}': {
    operationId: 'getRun',
    tag: 'runs',
    summary: 'Status and result of a run',
    examples: EXAMPLES.getRun,
    description:
      'Readable by the key that started the run, an admin, or a key with read on the very profile the run used (a later profile of the same name does not count); any other key gets the unknown-run 404.',
    status: 200,
    response: RunStatus,
    errors: { ...QUERY_ERRORS, 404: ['run_not_found'] },
  },
  'GET /openapi.json': {
    operationId: 'getOpenApiDocument',
    tag: 'meta',
    summary: 'This document',
    description:
      'This OpenAPI 3.1 document, generated from the route table; public. Generate a client from it (docs/api.md, "Using the document").',
    examples: EXAMPLES.getOpenApiDocument,
    status: 200,
    errors: {},
  },
  'GET /healthz': {
    operationId: 'getHealth',
    tag: 'meta',
    summary: 'Liveness',
    description: 'Liveness: answers {status: ok} without touching storage; public.',
    examples: EXAMPLES.getHealth,
    status: 200,
    response: Health,
    errors: {},
  },
};

/** A route of the table with its operation, if it is documented. */
export interface DocumentedRoute extends RouteDef {
  /** Absent: not in the OpenAPI document (the console's static files). */
  readonly op?: Operation;
}

/** Every route, in table order, with its operation. */
export const documentedRoutes: readonly DocumentedRoute[] = routeList.map((r) => {
  const op = operations[r.key];
  return op ? { ...r, op } : r;
});
