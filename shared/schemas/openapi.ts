import { type DocumentedRoute, documentedRoutes } from '../http/route-docs.ts';
import { Health, PathParams } from '../http/routes.ts';
import { Agent, AgentList, CreateAgentBody, CreatedAgent, InputArg, Runner, SigningSecret, UpdateAgentBody } from './agents.ts';
import { ApiKey, ApiKeyList, CreateApiKeyBody, CreatedApiKey } from './api-keys.ts';
import { AuditPage } from './audit.ts';
import { ApiKeyConfig, OAuth2AuthorizationCodeConfig, OAuth2Config } from './auth-config.ts';
import { ErrorBody } from './common.ts';
import { documentedJson } from './doc.ts';
import { PatchProfileBody, ProfileUsage, RotateProfileBody, RotateProfileResponse, UsageSummary } from './lifecycle.ts';
import { AuthType } from './policy.ts';
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
import { GrantProxyBody, ProxyBody, ProxyResponse, TestProfileBody, TestProfileResponse } from './proxy.ts';
import { RunAgentBody, RunAgentResponse, RunStatus } from './runs.ts';
import {
  CreateWebhookBody,
  CreatedWebhook,
  DeliveryPage,
  TestEventResponse,
  UpdateWebhookBody,
  Webhook,
  WebhookList,
  WebhookSecret,
} from './webhooks.ts';
import * as z from './zod.ts';
import { describe } from './zod.ts';

/**
 * The OpenAPI 3.1 document, generated from the route table (shared/http/routes.ts) and the zod
 * schemas: what `GET /openapi.json` serves and what SDKs are generated from (docs/api.md, "Using
 * the document"). Linted in the tests with Redocly (recommended) and Spectral (spectral:oas) at
 * 0 errors and 0 warnings, and every answer of the e2e suite is validated against it.
 *
 * Answers are named schemas in `components.schemas` (zod *outputs*). Request bodies are named
 * `components.requestBodies` rendered as zod *inputs*: a field with a default is optional, and —
 * being a request body — stays optional in types generated with openapi-typescript's defaults
 * (which make a defaulted property of a `components.schemas` object required).
 */

/** custom, bearer and basic take no auth_config (shared/schemas/auth-config.ts). */
const NoAuthConfig = describe(z.strictObject({}), 'custom, bearer and basic take no auth_config: an empty object (or none)');

/** API Gateway's own answer (deployed only): its stage throttling (429) or a failed integration (500, 503). */
const GatewayError = describe(
  z.object({ message: z.string() }),
  "API Gateway's own answer, deployed only: its stage throttling (429) or a function that failed to answer (500, 503)",
);

/** The error answer, with the fields some errors carry besides code and message. */
const ErrorDoc = z.object({
  error: describe(
    z.catchall(
      z.extend(ErrorBody.shape.error, {
        usage: describe(z.optional(UsageSummary), 'profile_in_use only: the usage summary that makes the profile in use'),
      }),
      z.unknown(),
    ),
    'Error codes are stable; further fields may be added to an error',
  ),
});

/** Answers: `components.schemas.<Name>`, referenced by `$ref` (a named schema nested in another is referenced too). */
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
  AuthProfileUsageSummary: UsageSummary,
  AuditPage,
  Webhook,
  CreatedWebhook,
  WebhookList,
  WebhookSecret,
  WebhookDeliveryPage: DeliveryPage,
  WebhookTestEvent: TestEventResponse,
  ConnectLink: ConnectResponse,
  DisconnectedAuthProfile: DisconnectResponse,
  NoAuthConfig,
  ApiKeyAuthConfig: ApiKeyConfig,
  OAuth2ClientCredentialsAuthConfig: OAuth2Config,
  OAuth2AuthorizationCodeAuthConfig: OAuth2AuthorizationCodeConfig,
  Error: ErrorDoc,
  GatewayError,
  Health,
} as const;

/** Request bodies: `components.requestBodies.<Name>`. POST /v1/proxy's is one of two bodies (API key or run grant). */
const requestSchemas = {
  CreateAgentRequest: CreateAgentBody,
  UpdateAgentRequest: UpdateAgentBody,
  CreateApiKeyRequest: CreateApiKeyBody,
  CreateAgentAuthProfileRequest: CreateProfileBody,
  UpsertAgentAuthProfileRequest: UpsertProfileBody,
  CreateAuthProfileRequest: NativeCreateProfileBody,
  PutAuthProfileRequest: NativePutProfileBody,
  ProxyRequest: ProxyBody,
  TestAuthProfileRequest: TestProfileBody,
  PatchAuthProfileRequest: PatchProfileBody,
  RotateAuthProfileRequest: RotateProfileBody,
  ShareAuthProfileRequest: ShareProfileBody,
  RunAgentRequest: RunAgentBody,
  CreateWebhookRequest: CreateWebhookBody,
  UpdateWebhookRequest: UpdateWebhookBody,
  ConnectAuthProfileRequest: ConnectBody,
  DisconnectAuthProfileRequest: DisconnectBody,
  DeleteAuthProfileRequest: DeleteProfileBody,
} as const;

type ResponseName = keyof typeof responseSchemas;
type RequestName = keyof typeof requestSchemas;
type Json = Record<string, unknown>;

/** Tags group operations in documentation and in generated clients (one client class per tag). */
const tags = [
  { name: 'auth-profiles', description: 'Auth profiles: credentials sealed under a token only the caller holds' },
  { name: 'agents', description: 'Agents: their input arguments and their runner' },
  { name: 'api-keys', description: "API keys: the tenant's principals (admin or member); admin only" },
  { name: 'runs', description: 'Running an agent with a profile, and run status' },
  { name: 'audit', description: 'The audit log: every change to a profile and every use of one' },
  {
    name: 'webhooks',
    description: "Tenant webhooks: signed event deliveries (connections, deleted profiles) to the platform's own URL; admin only",
  },
  { name: 'meta', description: 'Public, storage-free endpoints' },
] as const;

const ref = (name: ResponseName) => ({ $ref: `#/components/schemas/${name}` });

/** Applies documentedAs (shared/schemas/doc.ts): the marked schema's rendering is replaced, its description kept. */
function override(ctx: { zodSchema: unknown; jsonSchema: Json }): void {
  const doc = documentedJson(ctx.zodSchema as object);
  if (!doc) return;
  const { description } = ctx.jsonSchema;
  for (const k of Object.keys(ctx.jsonSchema)) delete ctx.jsonSchema[k];
  Object.assign(ctx.jsonSchema, doc, description !== undefined && doc.description === undefined ? { description } : {});
}

/**
 * Each rendered schema carries `$schema`/`$id`; inside the document the dialect is the document's
 * own and an `$id` would change how `$ref`s resolve, so both go. A `oneOf` of one schema (a
 * discriminated union with one member so far, like Runner) is that schema.
 */
function bare(schema: Json): Json {
  const { $schema: _s, $id: _i, ...rest } = schema;
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) for (const n of node) visit(n);
    if (!node || typeof node !== 'object') return;
    const obj = node as Json;
    const one = obj.oneOf as Json[] | undefined;
    if (one?.length === 1) {
      delete obj.oneOf;
      Object.assign(obj, one[0], obj.description !== undefined ? { description: obj.description } : {});
    }
    for (const v of Object.values(obj)) visit(v);
  };
  visit(rest);
  return rest;
}

/** The answers, rendered together so that a named schema nested in another is a `$ref`. */
function responseComponents(): Record<string, Json> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(responseSchemas)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    io: 'output',
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
    override,
  });
  const out: Record<string, Json> = {};
  for (const [id, schema] of Object.entries(schemas)) out[id] = typedAuthConfig(bare(schema as Json), 'output');
  return out;
}

/** One request body schema, inline (a request body's nested schemas are its own). */
const requestSchema = (schema: z.core.$ZodType): Json =>
  typedAuthConfig(bare(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', override }) as Json), 'input');

const AUTH_CONFIG_VARIANTS: Readonly<
  Record<
    z.infer<typeof AuthType>,
    'NoAuthConfig' | 'ApiKeyAuthConfig' | 'OAuth2ClientCredentialsAuthConfig' | 'OAuth2AuthorizationCodeAuthConfig'
  >
> = {
  custom: 'NoAuthConfig',
  bearer: 'NoAuthConfig',
  basic: 'NoAuthConfig',
  api_key: 'ApiKeyAuthConfig',
  oauth2_client_credentials: 'OAuth2ClientCredentialsAuthConfig',
  oauth2_authorization_code: 'OAuth2AuthorizationCodeAuthConfig',
};

/**
 * `auth_config` as one of the per-type configs, chosen by `auth_type` (a validator checks the
 * pairing with the `if`/`then` conditions). The zod schema takes any object and the type module
 * checks it (shared/credentials/types/index.ts parseCredential); the variants are those modules'
 * own schemas (shared/schemas/auth-config.ts). Requests inline them as inputs (client_auth
 * optional), answers reference them.
 */
function typedAuthConfig(schema: Json, io: 'input' | 'output'): Json {
  const variant = (name: (typeof AUTH_CONFIG_VARIANTS)[keyof typeof AUTH_CONFIG_VARIANTS]): Json =>
    io === 'output' ? ref(name) : bare(z.toJSONSchema(responseSchemas[name], { io: 'input', unrepresentable: 'any', override }) as Json);
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) for (const n of node) visit(n);
    if (!node || typeof node !== 'object') return;
    const obj = node as Json;
    const props = obj.properties as Record<string, Json> | undefined;
    if (props?.auth_config && props.auth_type) {
      props.auth_config = {
        description:
          `${String(props.auth_config.description ?? '')} One of the per-type configs, as auth_type says: api_key → ApiKeyAuthConfig, oauth2_client_credentials → OAuth2ClientCredentialsAuthConfig, oauth2_authorization_code → OAuth2AuthorizationCodeAuthConfig, custom/bearer/basic → NoAuthConfig.`.trim(),
        oneOf: [...new Set(Object.values(AUTH_CONFIG_VARIANTS))].map((n) => variant(n)),
      };
      obj.allOf = AuthType.options.map((t) => ({
        if: { properties: { auth_type: { const: t } }, required: ['auth_type'] },
        // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword, never awaited
        then: { properties: { auth_config: variant(AUTH_CONFIG_VARIANTS[t]) } },
      }));
    }
    for (const v of Object.values(obj)) visit(v);
  };
  visit(schema);
  return schema;
}

/** The component name of a schema the table references (by identity). */
function nameOf<N extends string>(named: Readonly<Record<N, z.core.$ZodType>>, schema: z.core.$ZodType, route: string): N {
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

/** Deployed, API Gateway itself may answer these (stage throttling, a function that failed to answer), public routes too. */
const GATEWAY_STATUSES: ReadonlySet<number> = new Set([429, 500, 503]);

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  409: 'Conflict',
  413: 'Payload too large',
  415: 'Unsupported media type',
  429: 'Too many requests',
  500: 'Internal error',
  501: 'Not implemented',
  502: 'Bad gateway',
  503: 'Service unavailable',
  504: 'Gateway timeout',
};

/** Example values of the path parameters (the schemas are the dispatcher's: shared/http/routes.ts PathParams). */
const PATH_EXAMPLES: Readonly<Record<keyof typeof PathParams, string>> = {
  agent_id: 'support-bot',
  name: 'zendesk',
  key_id: '3f9c2a7b4d1e8f60',
  principal: 'role:member',
  session_id: 'run_4b1f0c2e9a7d4e6f8a1b2c3d4e5f6a7b',
  asset: 'app.js',
  webhook_id: 'wh_3qk9XbV1mPz0aLw2',
};

/** The error answer of one status: the Error schema with `code` narrowed to the codes this operation can answer there. */
function errorResponse(status: number, codes: readonly string[]): Json {
  const withCodes = {
    allOf: [
      ref('Error'),
      {
        type: 'object',
        required: ['error'],
        properties: { error: { type: 'object', required: ['code'], properties: { code: { type: 'string', enum: [...codes] } } } },
      },
    ],
  };
  const schema = GATEWAY_STATUSES.has(status) ? { anyOf: [withCodes, ref('GatewayError')] } : withCodes;
  const text = `${STATUS_TEXT[status] ?? 'Error'}: ${codes.map((c) => `\`${c}\``).join(', ')}${GATEWAY_STATUSES.has(status) ? " (deployed, also API Gateway's own `{message}`)" : ''}`;
  return {
    description: text,
    ...(status === 429 || status === 503 ? { headers: { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } } } : {}),
    content: { 'application/json': { schema } },
  };
}

/** The error statuses and codes of a route: its own, merged with those every (authenticated) route can answer. */
export function errorCodesOf(r: DocumentedRoute): Record<number, string[]> {
  const op = r.op as NonNullable<DocumentedRoute['op']>;
  const common: [string, readonly string[]][] = r.permission.kind === 'public' ? [] : Object.entries(COMMON_ERRORS);
  const errors: Record<number, Set<string>> = {};
  for (const [status, codes] of [...Object.entries(op.errors), ...common]) {
    const set = errors[Number(status)] ?? new Set<string>();
    for (const code of codes ?? []) set.add(code);
    errors[Number(status)] = set;
  }
  return Object.fromEntries(Object.entries(errors).map(([s, set]) => [s, [...set]]));
}

/** Whether the route's body takes `api_key` (authentication in the body, the compatible API's way). */
const takesBodyApiKey = (r: DocumentedRoute): boolean =>
  r.body !== undefined &&
  (z.toJSONSchema(r.body, { io: 'input', unrepresentable: 'any' }) as { properties?: Json }).properties?.api_key !== undefined;

function parameters(r: DocumentedRoute): Json[] {
  const op = r.op as NonNullable<DocumentedRoute['op']>;
  const params: Json[] = [...r.path.matchAll(/\{([a-z_]+)\}/g)].map((m) => {
    const name = m[1] as keyof typeof PathParams;
    const p = PathParams[name];
    return {
      name,
      in: 'path',
      required: true,
      description: `The ${p.what}`,
      schema: bare(z.toJSONSchema(p.schema, { io: 'input', unrepresentable: 'any' }) as Json),
      example: PATH_EXAMPLES[name],
    };
  });
  if (r.query) {
    const q = z.toJSONSchema(r.query, { io: 'input', unrepresentable: 'any', override }) as {
      properties?: Record<string, Json>;
      required?: string[];
    };
    for (const [name, schema] of Object.entries(q.properties ?? {})) {
      const { description, ...rest } = schema;
      const text = op.queryDocs?.[name] ?? (description as string | undefined);
      params.push({
        name,
        in: 'query',
        required: q.required?.includes(name) ?? false,
        ...(text ? { description: text } : {}),
        schema: rest,
      });
    }
  }
  return params;
}

function operation(r: DocumentedRoute, head: boolean): Json {
  const op = r.op as NonNullable<DocumentedRoute['op']>;
  const body = r.body ? nameOf(requestSchemas, r.body, r.key) : undefined;
  const response = op.response ? nameOf(responseSchemas, op.response, r.key) : undefined;
  const isPublic = r.permission.kind === 'public';
  const grant = r.permission.kind === 'credential' && r.permission.grant === true;
  const bodyKey = takesBodyApiKey(r);
  const params = parameters(r);
  const success: Json = {
    description: head ? 'Success: the headers GET answers, no body' : 'Success',
    ...(response && !head
      ? {
          content: {
            'application/json': { schema: ref(response), ...(op.examples.response !== undefined ? { example: op.examples.response } : {}) },
          },
        }
      : r.key === 'GET /openapi.json' && !head
        ? {
            content: {
              'application/json': {
                schema: { type: 'object', description: 'An OpenAPI 3.1 document' },
                example: { openapi: '3.1.0', info: { title: 'agent-vault', version: '1.0.0' }, paths: {} },
              },
            },
          }
        : {}),
  };
  // A browser route (the OAuth connect flow) answers a redirect, and its errors as HTML pages.
  const html = r.answers === 'html';
  const redirect: Json = {
    description: 'Redirect: the browser goes on to Location',
    headers: { Location: { description: 'Where the browser goes next', schema: { type: 'string', format: 'uri' } } },
  };
  // `default`: whatever else a browser route answers is an HTML page for the end user (never JSON).
  const responses: Json = html
    ? {
        [op.status]: redirect,
        default: {
          description: 'An HTML page for the end user',
          ...(head ? {} : { content: { 'text/html': { schema: { type: 'string' } } } }),
        },
      }
    : { [op.status]: success };
  for (const [status, codes] of Object.entries(errorCodesOf(r)).sort(([a], [b]) => Number(a) - Number(b))) {
    const answer = html
      ? {
          description: `${STATUS_TEXT[Number(status)] ?? 'Error'}: an HTML page for the end user (${codes.map((c) => `\`${c}\``).join(', ')})`,
          ...(status === '429' || status === '503' ? { headers: { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } } } : {}),
          content: { 'text/html': { schema: { type: 'string' } } },
        }
      : errorResponse(Number(status), codes);
    if (Number(status) === 405) (answer as { headers?: Json }).headers = { Allow: { $ref: '#/components/headers/Allow' } };
    responses[status] = head ? { description: answer.description, ...(answer.headers ? { headers: answer.headers } : {}) } : answer;
  }
  if (isPublic) {
    // Public routes need no key; deployed, API Gateway's stage throttling and a failed function still answer.
    for (const status of GATEWAY_STATUSES) {
      const gw = {
        description: `${STATUS_TEXT[status]}: API Gateway's own answer (deployed only)`,
        ...(status === 429 || status === 503 ? { headers: { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } } } : {}),
      };
      const own = responses[status] as Json | undefined;
      if (html && own) {
        // A browser route's own page for this status; deployed, API Gateway may answer its JSON instead.
        own.description = `${own.description}; deployed, also API Gateway's own \`{message}\``;
        if (!head) (own.content as Json)['application/json'] = { schema: ref('GatewayError') };
        continue;
      }
      responses[status] = head ? gw : { ...gw, content: { 'application/json': { schema: ref('GatewayError') } } };
    }
  }
  const auth = [
    'Authentication: `Authorization: Bearer avk_…` or `X-Api-Key: avk_…`',
    bodyKey ? ", or `api_key` in the JSON body (the compatible API's way; the empty security requirement `{}` stands for it)" : '',
    grant ? '; a runner may present its run grant instead (`Authorization: Bearer avg_…`, no API key, the grant body)' : '',
    '.',
  ].join('');
  const description = head
    ? `HEAD of \`${r.key}\`: the status and headers GET answers, without a body (RFC 9110 §9.3.2).`
    : `${op.description}${isPublic ? '' : `\n\n${auth}`}`;
  const security = isPublic ? [] : [{ bearer: [] }, { apiKeyHeader: [] }, ...(grant ? [{ runGrant: [] }] : []), ...(bodyKey ? [{}] : [])];
  return {
    operationId: head ? `${op.operationId}Head` : op.operationId,
    tags: [op.tag],
    summary: head ? `Headers only: ${op.summary}` : op.summary,
    description,
    ...(params.length ? { parameters: params } : {}),
    ...(isPublic || grant || bodyKey ? { security } : {}),
    ...(body && !head ? { requestBody: { $ref: `#/components/requestBodies/${body}` } } : {}),
    responses,
  };
}

/** `components.requestBodies`: each body inline, with the example of each operation that takes it (named by operationId). */
function requestBodies(): Record<string, Json> {
  const examples = new Map<string, Record<string, { summary: string; value: unknown }>>();
  for (const r of documentedRoutes) {
    if (!r.body || r.op?.examples.request === undefined) continue;
    const name = nameOf(requestSchemas, r.body, r.key);
    examples.set(name, { ...examples.get(name), [r.op.operationId]: { summary: r.key, value: r.op.examples.request } });
  }
  const out: Record<string, Json> = {};
  for (const [name, schema] of Object.entries(requestSchemas) as [RequestName, z.core.$ZodType][]) {
    let json = requestSchema(schema);
    let description = json.description as string | undefined;
    if (name === 'ProxyRequest') {
      // Exactly one of the two bodies: a grant body names no profile (no agent_id, auth_token, api_key).
      const grantBody = requestSchema(GrantProxyBody);
      description =
        'With an API key: agent_id and auth_token name the profile. With a run grant (Authorization: Bearer avg_…): the request only, the grant names the profile.';
      json = {
        oneOf: [
          { title: 'ApiKeyProxyRequest', ...json },
          {
            title: 'GrantProxyRequest',
            ...grantBody,
            not: { anyOf: ['agent_id', 'auth_token', 'api_key'].map((f) => ({ properties: { [f]: { type: 'string' } }, required: [f] })) },
          },
        ],
      };
    }
    const named = examples.get(name);
    out[name] = {
      required: true,
      description: description ?? name.replace(/Request$/, '').replace(/([a-z])([A-Z])/g, '$1 $2'),
      content: { 'application/json': { schema: json, ...(named ? { examples: named } : {}) } },
    };
  }
  return out;
}

/**
 * Builds the OpenAPI 3.1 document from the route table and the zod schemas. `serverUrl` (when
 * known) is listed first; the relative server `/` always works for the vault serving the document.
 * HEAD is declared wherever GET is (the vault answers it: shared/http/routes.ts methodsOf).
 */
export function buildOpenApi(serverUrl?: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of documentedRoutes) {
    if (!r.op) continue;
    paths[r.path] ??= {};
    const item = paths[r.path] as Record<string, unknown>;
    item[r.method.toLowerCase()] = operation(r, false);
    if (r.method === 'GET') item.head = operation(r, true);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'agent-vault',
      version: '1.0.0',
      description: 'Credential vault for AI agents: auth profiles encrypted under a key derived from a token only the caller holds.',
      contact: { name: 'agent-vault maintainers' },
      // package.json is private with no license field: no license is granted (npm's UNLICENSED).
      license: { name: 'UNLICENSED', identifier: 'LicenseRef-UNLICENSED' },
    },
    servers: [
      ...(serverUrl ? [{ url: serverUrl }] : []),
      { url: '/', description: 'The vault serving this document' },
      { url: 'http://127.0.0.1:3000', description: 'A local vault started with npm start (default PORT)' },
    ],
    tags: tags.filter((t) => documentedRoutes.some((r) => r.op?.tag === t.name)),
    security: [{ bearer: [] }, { apiKeyHeader: [] }],
    components: {
      schemas: responseComponents(),
      requestBodies: requestBodies(),
      headers: {
        RetryAfter: { description: 'Seconds to wait before retrying', schema: { type: 'integer', minimum: 0 }, example: 1 },
        Allow: { description: 'The methods the path is served under', schema: { type: 'string' }, example: 'GET, HEAD' },
      },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'Tenant API key (avk_…)' },
        apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-Api-Key', description: 'Tenant API key (avk_…), as a header' },
        runGrant: {
          type: 'http',
          scheme: 'bearer',
          description:
            'Run grant (avg_…) a runner of an agent with credential_delivery "proxy" receives; POST /v1/proxy only, while its run runs',
        },
      },
    },
    paths,
  };
}
