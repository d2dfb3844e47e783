import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { routeKey, routeList as routes } from '#shared/http/routes';
import { buildOpenApi } from '#shared/schemas/openapi';
import { AUTH_CACHE_TTL_MS } from '#shared/services/api-keys';

type Doc = ReturnType<typeof buildOpenApi>;
type Op = { operationId: string; tags: string[]; requestBody?: { content: Record<string, { schema: { $ref?: string } }> }; responses: Record<string, { $ref?: string; description?: string; content?: Record<string, { schema: { $ref?: string } }> }> };

const operations = (doc: Doc) =>
  Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops as Record<string, Op>).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, op })));

/** Every `$ref` anywhere in the document. */
function refs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) refs(v, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

/** Resolves a local JSON pointer (`#/components/schemas/Agent`) in the document. */
function resolve(doc: unknown, pointer: string): unknown {
  let node: unknown = doc;
  for (const part of pointer.replace(/^#\//, '').split('/')) node = node && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined;
  return node;
}

describe('OpenAPI document', () => {
  it('passes an independent OpenAPI 3.1 validator', async () => {
    const validator = new Validator();

    const res = await validator.validate(structuredClone(buildOpenApi('https://vault.example.com')));

    expect(res.errors ?? []).toEqual([]);
    expect(res.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('is rejected by that validator when broken (the check can fail)', async () => {
    const broken = structuredClone(buildOpenApi()) as unknown as { paths: Record<string, Record<string, { parameters: { in: string }[] }>> };
    const param = broken.paths['/v1/agents/{agent_id}']?.get?.parameters[0];
    if (param) param.in = 'body'; // OpenAPI 2 style: not a parameter location in 3.x

    const res = await new Validator().validate(broken);

    expect(res.valid).toBe(false);
  });

  it('resolves every $ref inside the document', () => {
    const doc = buildOpenApi();

    const all = refs(doc);

    expect(all.length).toBeGreaterThan(20);
    for (const r of all) expect(resolve(doc, r), r).toBeTypeOf('object');
  });

  it('names the main schemas in components.schemas and references them', () => {
    const doc = buildOpenApi();
    const byKey = Object.fromEntries(operations(doc).map(({ key, op }) => [key, op]));
    const responseRef = (key: string, status: string) => byKey[key]?.responses[status]?.content?.['application/json']?.schema.$ref;

    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['Agent', 'AuthProfile', 'Run', 'Error', 'CreateAgentAuthProfileRequest', 'RunAgentRequest']));
    expect(responseRef('GET /v1/agents/{agent_id}', '200')).toBe('#/components/schemas/Agent');
    expect(responseRef('GET /v1/agents/{agent_id}/auth-profiles/{name}', '200')).toBe('#/components/schemas/AuthProfile');
    expect(responseRef('GET /v1/runs/{session_id}', '200')).toBe('#/components/schemas/Run');
    expect(byKey['POST /run_agent']?.requestBody?.content['application/json']?.schema.$ref).toBe('#/components/schemas/RunAgentRequest');
    expect(responseRef('POST /v1/agents', '400')).toBe('#/components/schemas/Error');
    expect(responseRef('POST /v1/agents', '409')).toBe('#/components/schemas/Error');
    // A list references its item schema instead of repeating it.
    expect(refs(doc.components.schemas.AgentList)).toEqual(['#/components/schemas/Agent']);
  });

  it('lists the specific error statuses of each operation from the route table, with their codes', () => {
    const byKey = Object.fromEntries(operations(buildOpenApi()).map(({ key, op }) => [key, op]));
    const del = byKey['DELETE /v1/agents/{agent_id}'];
    expect(Object.keys(del?.responses ?? {}).sort()).toEqual(['204', '400', '401', '403', '404', '409', '429', '500', '503']);
    expect(del?.responses['403']?.description).toContain('`forbidden`');
    expect(del?.responses['409']?.description).toContain('`agent_has_profiles`');
    // No catch-all ranges: a client learns which statuses each operation can answer.
    for (const { op } of operations(buildOpenApi())) expect(Object.keys(op.responses).filter((s) => /X/.test(s))).toEqual([]);
  });

  it('renders request bodies as inputs: fields with defaults are optional', () => {
    const doc = buildOpenApi();
    const run = doc.components.schemas.RunAgentRequest as { required: string[] };

    expect(run.required).toEqual(['agent_id']);
  });

  it("shows rotate's expires_in_hours as a number or null (null: no expiry; omitted: kept)", () => {
    const rotate = buildOpenApi().components.schemas.RotateAuthProfileRequest as { required: string[]; properties: Record<string, { anyOf?: { type: string }[]; description?: string }> };
    const field = rotate.properties.expires_in_hours;

    expect(field?.anyOf?.map((s) => s.type)).toEqual(['number', 'null']);
    expect(field?.description).toContain('kept');
    expect(rotate.required).toEqual(['auth_token']);
  });

  it('gives every operation a readable unique operationId and a declared tag', () => {
    const doc = buildOpenApi();
    const ops = operations(doc);
    const ids = ops.map(({ op }) => op.operationId);
    const declared = new Set<string>(doc.tags.map((t) => t.name));

    expect(ops.map(({ key }) => key).sort()).toEqual(routes.filter((r) => r.op !== undefined).map(routeKey).sort());
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-z][A-Za-z]+$/);
    for (const { op } of ops) expect(op.tags.every((t) => declared.has(t))).toBe(true);
    expect(ids).toEqual(expect.arrayContaining(['createAgentAuthProfile', 'upsertAgentAuthProfile', 'runAgent', 'listAgents', 'getRun']));
  });

  it("documents the revocation bound on DELETE /v1/api-keys/{key_id}, the auth cache's own TTL", () => {
    const op = (buildOpenApi().paths['/v1/api-keys/{key_id}'] as Record<string, { description?: string }>).delete;

    expect(op?.description).toContain(`${AUTH_CACHE_TTL_MS / 1000} s after`);
    expect(op?.description).toContain('at once');
  });

  it('lists servers: the given URL first, then the same-origin relative server', () => {
    expect(buildOpenApi('https://vault.example.com').servers.map((s) => s.url)).toEqual(['https://vault.example.com', '/', 'http://127.0.0.1:3000']);
    expect(buildOpenApi().servers[0]?.url).toBe('/');
  });
});
