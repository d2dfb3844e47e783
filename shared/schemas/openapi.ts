import * as z from 'zod';
import { Health, type RouteDef, routeList } from '../http/routes.ts';
import { Agent, AgentList, CreateAgentBody, CreatedAgent, InputArg, Runner, SigningSecret, UpdateAgentBody } from './agents.ts';
import { ApiKey, ApiKeyList, CreateApiKeyBody, CreatedApiKey } from './api-keys.ts';
import { ErrorBody } from './common.ts';
import {
  ConnectBody,
  ConnectResponse,
  CreateProfileBody,
  DeleteProfileBody,
  DisconnectBody,
  DisconnectResponse,
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
  ConnectLink: ConnectResponse,
  DisconnectedAuthProfile: DisconnectResponse,
  Error: ErrorBody,
  Health,
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
  ConnectAuthProfileRequest: ConnectBody,
  DisconnectAuthProfileRequest: DisconnectBody,
  DeleteAuthProfileRequest: DeleteProfileBody,
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

/** The component name of a schema the table references (by identity). */
function nameOf<N extends string>(named: Readonly<Record<N, z.ZodType>>, schema: z.ZodType, route: string): N {
  const found = (Object.keys(named) as N[]).find((n) => named[n] === schema);
  if (!found) throw new Error(`route ${route}: a schema it uses is not a named component of shared/schemas/openapi.ts`);
  return found;
}

/** Statuses every authenticated operation can answer, besides its own (shared/http/middleware.ts, authenticate.ts). */
const COMMON_ERRORS: Readonly<Record<number, readonly string[]>> = {
  401: ['unauthorized'],
  429: ['too_many_requests'],
  500: ['internal_error', 'integrity_check_failed'],
  503: ['service_unavailable'],
};

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not found', 405: 'Method not allowed', 409: 'Conflict', 413: 'Payload too large',
  415: 'Unsupported media type', 429: 'Too many requests', 500: 'Internal error', 501: 'Not implemented', 502: 'Bad gateway', 503: 'Service unavailable', 504: 'Gateway timeout',
};

function operation(r: RouteDef) {
  const op = r.op as NonNullable<RouteDef['op']>;
  const params: Record<string, unknown>[] = [...r.path.matchAll(/\{([a-z_]+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
  for (const [name, description] of Object.entries(op.queryDocs ?? {})) params.push({ name, in: 'query', required: false, schema: { type: 'string' }, description });
  const body = r.body ? nameOf(requestSchemas, r.body, r.key) : undefined;
  const grantBody = r.grantBody ? nameOf(requestSchemas, r.grantBody, r.key) : undefined;
  const response = op.response ? nameOf(responseSchemas, op.response, r.key) : undefined;
  const isPublic = r.permission.kind === 'public';
  const grant = r.permission.kind === 'credential' && r.permission.grant === true;
  // The route's own statuses and codes, merged with those every authenticated route can answer.
  const errors: Record<number, Set<string>> = {};
  for (const [status, codes] of [...Object.entries(op.errors), ...(isPublic ? [] : Object.entries(COMMON_ERRORS))]) {
    const set = errors[Number(status)] ?? new Set<string>();
    for (const code of codes ?? []) set.add(code);
    errors[Number(status)] = set;
  }
  // A browser route (the OAuth connect flow) answers a redirect, and its errors as HTML pages.
  const html = r.answers === 'html';
  const success = html
    ? { description: 'Redirect', headers: { Location: { description: 'Where the browser goes next', schema: { type: 'string' } } } }
    : response
      ? { description: 'Success', content: { 'application/json': { schema: ref(response) } } }
      : { description: 'Success' };
  const responses: Record<string, unknown> = { [op.status]: success };
  for (const [status, codes] of Object.entries(errors).sort(([a], [b]) => Number(a) - Number(b))) {
    const content = html ? { 'text/html': { schema: { type: 'string' } } } : { 'application/json': { schema: ref('Error') } };
    responses[status] = { description: `${STATUS_TEXT[Number(status)] ?? 'Error'}: ${[...codes].map((c) => `\`${c}\``).join(', ')}`, content };
  }
  return {
    operationId: op.operationId,
    tags: [op.tag],
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    ...(params.length ? { parameters: params } : {}),
    ...(isPublic ? { security: [] } : grant ? { security: [{ bearer: [] }, { apiKeyHeader: [] }, { runGrant: [] }] } : {}),
    ...(body ? { requestBody: { required: true, content: { 'application/json': { schema: grantBody ? { oneOf: [ref(body), ref(grantBody)] } : ref(body) } } } } : {}),
    responses,
  };
}

/**
 * Builds the OpenAPI 3.1 document from the route table and the zod schemas. `serverUrl` (when
 * known) is listed first; the relative server `/` always works for the vault serving the document.
 */
export function buildOpenApi(serverUrl?: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routeList) {
    if (!r.op) continue;
    paths[r.path] ??= {};
    (paths[r.path] as Record<string, unknown>)[r.method.toLowerCase()] = operation(r);
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
