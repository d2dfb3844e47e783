import * as z from 'zod';
import { routeKey, routes } from '../http/routes.ts';
import { Agent, AgentList, CreateAgentBody, CreatedAgent, SigningSecret, UpdateAgentBody } from './agents.ts';
import { ErrorBody } from './common.ts';
import { CreateProfileBody, CreateProfileResponse, ProfileList, ProfileMetadata, UpsertProfileBody, UpsertProfileResponse } from './profiles.ts';
import { RunAgentBody, RunAgentResponse, RunStatus } from './runs.ts';

interface Operation {
  readonly summary: string;
  readonly body?: z.ZodType;
  readonly response?: z.ZodType;
  readonly status: number;
  readonly public?: boolean;
  readonly query?: Record<string, string>;
}

/** Documentation of every route; `routes` (shared/http/routes.ts) decides which exist. */
const operations: Record<string, Operation> = {
  'POST /api/create_agent_auth_profile': { summary: 'Create an auth profile; returns its auth token once', body: CreateProfileBody, response: CreateProfileResponse, status: 200 },
  'POST /api/upsert_agent_auth_profile': { summary: 'Create, replace (new token) or update in place (same token) an auth profile', body: UpsertProfileBody, response: UpsertProfileResponse, status: 200 },
  'POST /run_agent': { summary: "Run an agent with a profile's credentials", body: RunAgentBody, response: RunAgentResponse, status: 200 },
  'POST /api/run_agent': { summary: 'Alias of POST /run_agent', body: RunAgentBody, response: RunAgentResponse, status: 200 },
  'POST /v1/agents': { summary: 'Register an agent; returns its runner signing secret once', body: CreateAgentBody, response: CreatedAgent, status: 201 },
  'GET /v1/agents': { summary: 'List agents', response: AgentList, status: 200, query: { limit: '1-100, default 50', cursor: 'next_cursor of the previous page' } },
  'GET /v1/agents/{agent_id}': { summary: 'Read an agent', response: Agent, status: 200 },
  'PUT /v1/agents/{agent_id}': { summary: "Replace an agent's definition", body: UpdateAgentBody, response: Agent, status: 200 },
  'DELETE /v1/agents/{agent_id}': { summary: 'Delete an agent (409 while it has profiles unless ?force=true)', status: 204, query: { force: 'true deletes its profiles too' } },
  'POST /v1/agents/{agent_id}/rotate-signing-secret': { summary: 'Issue a new runner signing secret', response: SigningSecret, status: 200 },
  'GET /v1/agents/{agent_id}/auth-profiles': { summary: "List an agent's auth profiles (metadata only)", response: ProfileList, status: 200, query: { limit: '1-100, default 50', cursor: 'next_cursor of the previous page' } },
  'GET /v1/agents/{agent_id}/auth-profiles/{name}': { summary: 'Read auth profile metadata (never values)', response: ProfileMetadata, status: 200 },
  'DELETE /v1/agents/{agent_id}/auth-profiles/{name}': { summary: 'Delete an auth profile; its token dies at once', status: 204 },
  'GET /v1/runs/{session_id}': { summary: 'Status and result of a run', response: RunStatus, status: 200 },
  'GET /openapi.json': { summary: 'This document', status: 200, public: true },
  'GET /healthz': { summary: 'Liveness', status: 200, public: true },
};

const schema = (s: z.ZodType, io: 'input' | 'output') => z.toJSONSchema(s, { io, unrepresentable: 'any' });

/** Builds the OpenAPI 3.1 document from the route table and the zod schemas. */
export function buildOpenApi(serverUrl?: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const op = operations[routeKey(r)];
    if (!op) throw new Error(`route ${routeKey(r)} has no OpenAPI operation`);
    const params = [...r.path.matchAll(/\{([a-z_]+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    for (const [name, description] of Object.entries(op.query ?? {})) params.push({ name, in: 'query', required: false, schema: { type: 'string' }, description } as never);
    const error = { description: 'Error', content: { 'application/json': { schema: schema(ErrorBody, 'output') } } };
    paths[r.path] ??= {};
    (paths[r.path] as Record<string, unknown>)[r.method.toLowerCase()] = {
      summary: op.summary,
      operationId: routeKey(r).replace(/[^A-Za-z0-9]+/g, '_').replace(/^_|_$/g, ''),
      ...(params.length ? { parameters: params } : {}),
      ...(op.public ? { security: [] } : {}),
      ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: schema(op.body, 'input') } } } } : {}),
      responses: {
        [op.status]: op.response
          ? { description: 'Success', content: { 'application/json': { schema: schema(op.response, 'output') } } }
          : { description: 'Success' },
        '4XX': error,
        '5XX': error,
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'agent-vault', version: '1.0.0', description: 'Credential vault for AI agents: auth profiles encrypted under a key derived from a token only the caller holds.' },
    ...(serverUrl ? { servers: [{ url: serverUrl }] } : {}),
    security: [{ bearer: [] }, { apiKeyHeader: [] }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'Tenant API key (avk_…)' },
        apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
      },
    },
    paths,
  };
}
