import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { documentedRoutes as routes } from '#shared/http/route-docs';
import { routeKeysOf } from '#shared/http/routes';
import { buildOpenApi, errorCodesOf } from '#shared/schemas/openapi';
import { answerProblems, requestProblems, schemaValidator } from '#test/support/openapi';
import { AUTH_CACHE_TTL_MS } from '#shared/services/api-keys';

type Doc = ReturnType<typeof buildOpenApi>;
type Op = {
  operationId: string;
  tags: string[];
  description?: string;
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string; schema: Record<string, unknown> }[];
  requestBody?: { $ref: string };
  responses: Record<
    string,
    {
      $ref?: string;
      description?: string;
      headers?: Record<string, unknown>;
      content?: Record<string, { schema: Record<string, any>; example?: unknown }>;
    }
  >;
};

const operations = (doc: Doc) =>
  Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops as Record<string, Op>).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, op })),
  );

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
  for (const part of pointer.replace(/^#\//, '').split('/'))
    node = node && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined;
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
    const broken = structuredClone(buildOpenApi()) as unknown as {
      paths: Record<string, Record<string, { parameters: { in: string }[] }>>;
    };
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

    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['Agent', 'AuthProfile', 'Run', 'Error']));
    expect(Object.keys(doc.components.requestBodies)).toEqual(expect.arrayContaining(['CreateAgentAuthProfileRequest', 'RunAgentRequest']));
    expect(responseRef('GET /v1/agents/{agent_id}', '200')).toBe('#/components/schemas/Agent');
    expect(responseRef('GET /v1/agents/{agent_id}/auth-profiles/{name}', '200')).toBe('#/components/schemas/AuthProfile');
    expect(responseRef('GET /v1/runs/{session_id}', '200')).toBe('#/components/schemas/Run');
    expect(byKey['POST /run_agent']?.requestBody?.$ref).toBe('#/components/requestBodies/RunAgentRequest');
    expect(byKey['POST /v1/agents']?.responses['409']?.content?.['application/json']?.schema.allOf[0].$ref).toBe(
      '#/components/schemas/Error',
    );
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
    const body = (name: string) =>
      (buildOpenApi().components.requestBodies as Record<string, any>)[name].content['application/json'].schema;

    expect(body('RunAgentRequest').required).toEqual(['agent_id']);
    expect(body('RunAgentRequest').properties.run_async.default).toBe(true);
    expect(body('CreateApiKeyRequest').required).toEqual(['name']);
    expect(body('CreateAgentRequest').properties.input_args.items.required).toEqual(['name']);
  });

  it("shows rotate's expires_in_hours as a number or null (null: no expiry; omitted: kept)", () => {
    const rotate = (buildOpenApi().components.requestBodies as Record<string, any>).RotateAuthProfileRequest.content['application/json']
      .schema as {
      required: string[];
      properties: Record<string, { anyOf?: { type: string }[]; description?: string }>;
    };
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

    expect(ops.map(({ key }) => key).sort()).toEqual(
      routes
        .filter((r) => r.op !== undefined)
        .flatMap(routeKeysOf)
        .sort(),
    );
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
    expect(buildOpenApi('https://vault.example.com').servers.map((s) => s.url)).toEqual([
      'https://vault.example.com',
      '/',
      'http://127.0.0.1:3000',
    ]);
    expect(buildOpenApi().servers[0]?.url).toBe('/');
  });
});

describe('OpenAPI document as a product (docs/api.md, "Using the document")', () => {
  const doc = buildOpenApi();
  const documented = routes.filter((r) => r.op !== undefined);
  const opOf = (r: (typeof routes)[number], method = r.method.toLowerCase()) => (doc.paths[r.path] as Record<string, Op>)[method] as Op;
  const requestBody = (name: string) => (doc.components.requestBodies as Record<string, any>)[name];

  it('gives every operation a description, a request example when it takes a body and a response example when it answers one', () => {
    const missing: string[] = [];
    for (const r of documented) {
      const op = r.op as NonNullable<typeof r.op>;
      const name = `${op.operationId} (${r.key}, shared/http/routes.ts)`;
      if (!op.description?.trim()) missing.push(`${name}: op.description`);
      if (r.body && op.examples?.request === undefined) missing.push(`${name}: op.examples.request`);
      if (op.response && op.examples?.response === undefined) missing.push(`${name}: op.examples.response`);
      if (!op.response && op.examples?.response !== undefined)
        missing.push(`${name}: op.examples.response given, but the operation answers no body`);
      if (!r.body && op.examples?.request !== undefined)
        missing.push(`${name}: op.examples.request given, but the operation takes no body`);
    }

    expect(missing).toEqual([]);
    for (const r of documented) expect(opOf(r).description, r.key).toBeTruthy();
  });

  it("accepts every example with its route's own zod schemas", () => {
    const refused: string[] = [];
    for (const r of documented) {
      const op = r.op as NonNullable<typeof r.op>;
      if (op.examples.request !== undefined && r.body && !r.body.safeParse(op.examples.request).success)
        refused.push(`${op.operationId}: request`);
      if (op.examples.response !== undefined && op.response && !op.response.safeParse(op.examples.response).success)
        refused.push(`${op.operationId}: response`);
    }

    expect(refused).toEqual([]);
  });

  it('validates every example against the document itself, and shows it there', () => {
    const problems: string[] = [];
    for (const r of documented) {
      const op = r.op as NonNullable<typeof r.op>;
      if (op.examples.request !== undefined)
        problems.push(...requestProblems(r.method, r.path, op.examples.request).map((p) => `${op.operationId} request: ${p}`));
      if (op.examples.response !== undefined) {
        const text = JSON.stringify(op.examples.response);
        problems.push(
          ...answerProblems(r.method, r.path, { status: op.status, headers: new Headers(), text }).map(
            (p) => `${op.operationId} response: ${p}`,
          ),
        );
        expect(opOf(r).responses[String(op.status)]?.content?.['application/json']?.example, op.operationId).toEqual(op.examples.response);
      }
      if (r.body)
        expect(
          requestBody(opOf(r).requestBody?.$ref.split('/').pop() as string).content['application/json'].examples[op.operationId].value,
          op.operationId,
        ).toEqual(op.examples.request);
    }

    expect(problems).toEqual([]);
  });

  it('narrows each error answer to the codes the route table lists for that status', () => {
    for (const r of documented) {
      for (const [status, codes] of Object.entries(errorCodesOf(r))) {
        if (r.answers === 'html') {
          // The OAuth browser routes answer their errors as HTML pages for the end user, naming the codes in the description.
          expect(opOf(r).responses[status]?.content?.['text/html'], `${r.key} ${status}`).toBeDefined();
          for (const code of codes) expect(opOf(r).responses[status]?.description, `${r.key} ${status}`).toContain(code);
          continue;
        }
        const schema = opOf(r).responses[status]?.content?.['application/json']?.schema;
        const withCodes = schema?.anyOf ? schema.anyOf[0] : schema;
        expect(withCodes?.allOf?.[1].properties.error.properties.code.enum, `${r.key} ${status}`).toEqual(codes);
      }
    }
    const answer = (status: number, body: unknown) =>
      answerProblems('DELETE', '/v1/agents/a', { status, headers: new Headers(), text: JSON.stringify(body) });

    expect(answer(409, { error: { code: 'agent_has_profiles', message: 'x' } })).toEqual([]);
    expect(answer(409, { error: { code: 'profile_in_use', message: 'x' } })).toHaveLength(1);
    expect(answer(418, { error: { code: 'teapot', message: 'x' } })[0]).toContain('declares only');
  });

  it('declares Retry-After on every 429 and 503, and Allow on 405', () => {
    for (const { key, op } of operations(doc)) {
      for (const status of ['429', '503'])
        expect(op.responses[status]?.headers?.['Retry-After'], `${key} ${status}`).toEqual({ $ref: '#/components/headers/RetryAfter' });
      if (op.responses['405']) expect(op.responses['405'].headers?.Allow, key).toBeDefined();
    }
  });

  it('declares the fields errors carry besides code and message (409 profile_in_use: usage), and allows more', () => {
    const route = routes.find((r) => r.key === 'DELETE /v1/agents/{agent_id}/auth-profiles/{name}') as (typeof routes)[number];
    const inUse = {
      error: {
        code: 'profile_in_use',
        message: 'in use',
        usage: { use_count: 3, uses_last_7_days: { run: 1, proxy: 2, test: 0 }, last_used_at: '2026-12-01T00:00:00Z' },
      },
    };
    const answer = (body: unknown) =>
      answerProblems('DELETE', '/v1/agents/a/auth-profiles/p', { status: 409, headers: new Headers(), text: JSON.stringify(body) });

    expect((doc.components.schemas.Error as any).properties.error.properties).toHaveProperty('usage');
    expect(answer(inUse)).toEqual([]);
    expect(answer({ error: { ...inUse.error, request_id: 'r-1' } })).toEqual([]);
    expect(answer({ error: { ...inUse.error, usage: { use_count: 'many' } } })).not.toEqual([]);
    expect(errorCodesOf(route)[409]).toContain('profile_in_use');
  });

  it('types query parameters as the zod schemas do: limit an integer, force a boolean', () => {
    const param = (key: string, name: string) => {
      const r = routes.find((x) => x.key === key) as (typeof routes)[number];
      return opOf(r).parameters?.find((p) => p.in === 'query' && p.name === name)?.schema;
    };

    expect(param('GET /v1/agents', 'limit')).toMatchObject({ type: 'integer', minimum: 1, maximum: 100, default: 50 });
    expect(param('GET /v1/audit', 'limit')).toMatchObject({ type: 'integer' });
    expect(param('DELETE /v1/agents/{agent_id}', 'force')).toEqual({ type: 'boolean', default: false });
    expect(param('DELETE /v1/agents/{agent_id}/auth-profiles/{name}', 'force')).toEqual({ type: 'boolean', default: false });
    for (const r of documented) {
      const names = (opOf(r).parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
      expect(
        Object.keys(r.op?.queryDocs ?? {}).filter((n) => !names.includes(n)),
        `${r.key}: queryDocs for parameters its query schema lacks`,
      ).toEqual([]);
    }
  });

  it('has no untyped array items ({}), and types allowed_hosts as strings in answers', () => {
    const untyped: string[] = [];
    const walk = (node: unknown, path: string) => {
      if (Array.isArray(node)) for (const [i, n] of node.entries()) walk(n, `${path}/${i}`);
      else if (node && typeof node === 'object') {
        const items = (node as Record<string, unknown>).items;
        if (items && typeof items === 'object' && Object.keys(items).length === 0) untyped.push(path);
        for (const [k, v] of Object.entries(node)) walk(v, `${path}/${k}`);
      }
    };
    walk(doc, '#');

    expect(untyped).toEqual([]);
    expect((doc.components.schemas.AuthProfile as any).properties.allowed_hosts.items).toEqual({ type: 'string' });
  });

  it('makes the proxy body a oneOf whose branches exclude each other: an API-key body, or a run-grant body', () => {
    const oneOf = requestBody('ProxyRequest').content['application/json'].schema.oneOf as Record<string, unknown>[];
    const matches = (body: unknown) =>
      oneOf.map((_, i) =>
        schemaValidator('components', 'requestBodies', 'ProxyRequest', 'content', 'application/json', 'schema', 'oneOf', String(i))(body),
      );
    const request = { method: 'GET', url: 'https://api.example.com/x' };

    expect(matches({ agent_id: 'a', auth_token: 'avt_x', ...request })).toEqual([true, false]);
    expect(matches({ api_key: 'avk_x', agent_id: 'a', auth_token: 'avt_x', ...request })).toEqual([true, false]);
    expect(matches(request)).toEqual([false, true]);
    expect(matches({ agent_id: 'a', ...request })).toEqual([false, false]);
    expect(requestProblems('POST', '/v1/proxy', { ...request, method: 'FETCH' })).not.toEqual([]);
    expect(requestProblems('POST', '/v1/proxy', { agent_id: 'a', auth_token: 'avt_x', ...request })).toEqual([]);
  });

  it('pairs auth_config with auth_type, in requests and in answers', () => {
    const create = (body: unknown) => requestProblems('POST', '/v1/agents/a/auth-profiles', body);
    const profile = {
      ...(routes.find((r) => r.key === 'GET /v1/agents/{agent_id}/auth-profiles/{name}')?.op?.examples.response as object),
    };
    const read = (body: unknown) =>
      answerProblems('GET', '/v1/agents/a/auth-profiles/p', { status: 200, headers: new Headers(), text: JSON.stringify(body) });

    expect(create({ name: 'k', auth_type: 'api_key', auth_config: { api_key_method: 'header' }, auth_data: { 'X-Key': 'v' } })).toEqual([]);
    expect(
      create({
        name: 'o',
        auth_type: 'oauth2_client_credentials',
        auth_config: { token_url: 'https://auth.example.com/token' },
        auth_data: { client_id: 'c', client_secret: 's' },
      }),
    ).toEqual([]);
    expect(
      create({
        name: 'k',
        auth_type: 'api_key',
        auth_config: { token_url: 'https://auth.example.com/token' },
        auth_data: { 'X-Key': 'v' },
      }),
    ).not.toEqual([]);
    expect(create({ name: 'b', auth_type: 'bearer', auth_config: { api_key_method: 'header' }, auth_data: { token: 't' } })).not.toEqual(
      [],
    );
    expect(read({ ...profile, auth_type: 'api_key', auth_config: { api_key_method: 'query' } })).toEqual([]);
    expect(read({ ...profile, auth_type: 'bearer', auth_config: { api_key_method: 'query' } })).not.toEqual([]);
  });

  it('declares the body api_key (an empty security requirement) wherever a body takes it, the run grant on the proxy, nothing on public routes', () => {
    const security = (key: string) => opOf(routes.find((r) => r.key === key) as (typeof routes)[number]).security;

    expect(security('POST /api/create_agent_auth_profile')).toEqual([{ bearer: [] }, { apiKeyHeader: [] }, {}]);
    expect(security('POST /v1/proxy')).toEqual([{ bearer: [] }, { apiKeyHeader: [] }, { runGrant: [] }, {}]);
    expect(security('GET /healthz')).toEqual([]);
    expect(security('GET /v1/agents')).toBeUndefined(); // the document's: bearer or X-Api-Key
    expect(doc.security).toEqual([{ bearer: [] }, { apiKeyHeader: [] }]);
  });

  it('declares HEAD wherever GET is: the same statuses, no body', () => {
    for (const r of documented.filter((x) => x.method === 'GET')) {
      const get = opOf(r);
      const head = opOf(r, 'head');

      expect(head?.operationId, r.key).toBe(`${get.operationId}Head`);
      expect(Object.keys(head.responses), r.key).toEqual(Object.keys(get.responses));
      for (const answer of Object.values(head.responses)) expect(answer.content, r.key).toBeUndefined();
    }
  });
});
