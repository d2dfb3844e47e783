import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentedRoutes as routes } from '#shared/http/route-docs';
import { methodsOf } from '#shared/http/routes';
import { newApiKey, startTestVault, type TestVault } from '#test/support/vault';

let vault: TestVault;
const AGENT = 'err-bot';

beforeAll(async () => {
  vault = await startTestVault();
  const res = await vault.call('POST', '/v1/agents', {
    agent_id: AGENT,
    name: 'Error bot',
    input_args: [{ name: 'username' }, { name: 'password', required: true }],
    runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
  });
  expect(res.status).toBe(201);
});

afterAll(async () => {
  await vault?.close();
});

type Res = Awaited<ReturnType<TestVault['call']>>;

/**
 * The answer is a JSON error with the standard shape and the given status and code; an
 * unknown_field error also lists the fields (`unknown_fields: [{field, suggestion?}]`).
 */
function expectError(res: Res, status: number, code?: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const extra = res.json?.error?.code === 'unknown_field' ? { unknown_fields: expect.any(Array) } : {};
  expect(res.json).toEqual({ error: { code: code ?? expect.stringMatching(/^[a-z][a-z0-9_]*$/), message: expect.any(String), ...extra } });
  expect(res.json.error.message.length).toBeGreaterThan(0);
}

describe('request errors', () => {
  it('answers 400 invalid_json for malformed JSON', async () => {
    const res = await vault.call('POST', '/api/create_agent_auth_profile', undefined, { raw: '{"name": "main", "agent_id":' });

    expectError(res, 400, 'invalid_json');
  });

  it('answers 400 invalid_json for a body that is an array', async () => {
    const res = await vault.call('POST', '/api/create_agent_auth_profile', [{ name: 'main' }]);

    expectError(res, 400, 'invalid_json');
  });

  it('answers 400 for a "__proto__" key', async () => {
    const res = await vault.call('POST', '/api/create_agent_auth_profile', undefined, {
      raw: `{"name":"main","agent_id":"${AGENT}","auth_data":{"__proto__":{"password":"x"}}}`,
    });

    expectError(res, 400);
    expect(res.json.error.message).toContain('__proto__');
  });

  it('answers 415 for a body that is not declared as JSON', async () => {
    const res = await vault.call('POST', '/api/create_agent_auth_profile', undefined, {
      raw: '{"name":"main"}',
      headers: { 'content-type': 'text/plain' },
    });

    expectError(res, 415, 'unsupported_media_type');
  });

  it('answers 413 for a body over 256 KiB', async () => {
    const res = await vault.call('POST', '/api/create_agent_auth_profile', {
      name: 'main',
      agent_id: AGENT,
      auth_data: { password: 'x'.repeat(300 * 1024) },
    });

    expectError(res, 413, 'payload_too_large');
  });

  it('answers 401 without an API key', async () => {
    const res = await vault.call(
      'POST',
      '/api/create_agent_auth_profile',
      { name: 'main', agent_id: AGENT, auth_data: { password: 'pw' } },
      { apiKey: null },
    );

    expectError(res, 401, 'unauthorized');
  });

  it('answers 401 for an unknown API key', async () => {
    const res = await vault.call('GET', '/v1/agents', undefined, { apiKey: newApiKey() });

    expectError(res, 401, 'unauthorized');
  });

  it('answers 401 for a malformed API key', async () => {
    const res = await vault.call('GET', '/v1/agents', undefined, { apiKey: 'avk_bad' });

    expectError(res, 401, 'unauthorized');
  });

  it('answers 401 before validating the body', async () => {
    const res = await vault.call('POST', '/api/create_agent_auth_profile', { nonsense: true }, { apiKey: null });

    expectError(res, 401, 'unauthorized');
  });
});

describe('wrong types', () => {
  const create = (body: unknown) => vault.call('POST', '/api/create_agent_auth_profile', body);

  it('answers 400 naming auth_data.<key> for a number value', async () => {
    const res = await create({ name: 'main', agent_id: AGENT, auth_data: { password: 12345 } });

    expectError(res, 400);
    expect(res.json.error.message).toContain('auth_data.password');
    expect(res.json.error.message).not.toContain('12345');
  });

  it('answers 400 naming agent_id for a number', async () => {
    const res = await create({ name: 'main', agent_id: 42, auth_data: { password: 'pw' } });

    expectError(res, 400);
    expect(res.json.error.message).toContain('agent_id');
  });

  it('answers 400 naming auth_data for an array', async () => {
    const res = await create({ name: 'main', agent_id: AGENT, auth_data: ['pw'] });

    expectError(res, 400);
    expect(res.json.error.message).toContain('auth_data');
  });

  it('answers 400 naming name when upserting without name and without auth_token', async () => {
    const res = await vault.call('POST', '/api/upsert_agent_auth_profile', { agent_id: AGENT, auth_data: { password: 'pw' } });

    expectError(res, 400);
    expect(res.json.error.message).toContain('name');
  });

  it('answers 400 naming every missing field of a create', async () => {
    const res = await create({});

    expectError(res, 400);
    for (const field of ['name', 'agent_id', 'auth_data']) expect(res.json.error.message).toContain(field);
  });

  // parseInput turns an invalid_type issue without `input` into "is required"; zod 4 leaves
  // `input` off issues unless asked (reportInput), so a present value of the wrong type is
  // reported as missing. These pin the message to what was actually wrong.
  it.each([
    ['auth_data.password', { name: 'main', agent_id: AGENT, auth_data: { password: 12345 } }],
    ['agent_id', { name: 'main', agent_id: 42, auth_data: { password: 'pw' } }],
    ['auth_data', { name: 'main', agent_id: AGENT, auth_data: ['pw'] }],
  ])('does not call %s "required" when it is present with the wrong type', async (field, body) => {
    const res = await create(body);

    expectError(res, 400);
    expect(res.json.error.message).toContain(field);
    expect(res.json.error.message).not.toContain(`${field}: is required`);
  });

  it('does not call a non-numeric limit "required"', async () => {
    const res = await vault.call('GET', `/v1/agents/${AGENT}/auth-profiles?limit=ten`);

    expectError(res, 400);
    expect(res.json.error.message).not.toContain('is required');
  });

  it('answers 400 naming should_save_session for a string', async () => {
    const res = await vault.call('POST', '/api/upsert_agent_auth_profile', {
      agent_id: AGENT,
      name: 'main',
      should_save_session: 'yes',
      auth_data: { password: 'pw' },
    });

    expectError(res, 400);
    expect(res.json.error.message).toContain('should_save_session');
  });

  it('answers 400 naming auth_token for a number', async () => {
    const res = await vault.call('POST', '/api/upsert_agent_auth_profile', {
      agent_id: AGENT,
      auth_token: 7,
      auth_data: { password: 'pw' },
    });

    expectError(res, 400);
    expect(res.json.error.message).toContain('auth_token');
  });

  it('answers 400 for a query limit out of range', async () => {
    for (const limit of ['0', '101', 'ten', '-1', '1.5']) {
      const res = await vault.call('GET', `/v1/agents/${AGENT}/auth-profiles?limit=${limit}`);

      expectError(res, 400);
      expect(res.json.error.message).toContain('limit');
    }
  });

  it.each([
    ['name', { name: '\ud800', agent_id: AGENT, auth_data: { password: 'pw' } }],
    ['a value', { name: 'main', agent_id: AGENT, auth_data: { password: 'pw\udc00' } }],
    ['agent_id', { name: 'main', agent_id: '\ud800', auth_data: { password: 'pw' } }],
    ['a key', { name: 'main', agent_id: AGENT, auth_data: { '\ud800': 'pw' } }],
  ])('answers 400 for a lone surrogate in %s', async (_what, body) => {
    const res = await create(body);

    expectError(res, 400);
  });
});

describe('routing', () => {
  it('answers 405 with Allow for a wrong method', async () => {
    const res = await vault.call('DELETE', '/api/create_agent_auth_profile');

    expectError(res, 405, 'method_not_allowed');
    expect(res.headers.get('allow')).toBe('POST');
  });

  it('lists every allowed method in Allow', async () => {
    const res = await vault.call('PATCH', `/v1/agents/${AGENT}`);

    expectError(res, 405, 'method_not_allowed');
    expect(res.headers.get('allow')?.split(/,\s*/).sort()).toEqual(['DELETE', 'GET', 'HEAD', 'PUT']);
  });

  it('answers 405 without requiring an API key', async () => {
    const res = await vault.call('PUT', '/run_agent', undefined, { apiKey: null });

    expectError(res, 405);
  });

  it('answers 404 route_not_found as JSON for an unknown route', async () => {
    const res = await vault.call('GET', '/v2/nothing/here');

    expectError(res, 404, 'route_not_found');
    expect(res.json.error.message).toContain('/openapi.json');
  });

  it('answers 404 for a path with an extra segment', async () => {
    const res = await vault.call('GET', `/v1/agents/${AGENT}/auth-profiles/main/extra`);

    expectError(res, 404);
  });

  it('answers 400 or 404, never more, for an encoded slash or dot segments in a parameter', async () => {
    for (const path of [
      `/v1/agents/${AGENT}/auth-profiles/a%2Fb`,
      // fetch resolves %2e%2e as "..": this one arrives as /v1/auth-profiles/main, no route (the
      // shorter /v1/agents/%2e%2e/auth-profiles would arrive as GET /v1/auth-profiles, a real route).
      '/v1/agents/%2e%2e/auth-profiles/main',
      `/v1/agents/${AGENT}/auth-profiles/%00`,
      '/v1/agents/%zz',
    ]) {
      const res = await vault.call('GET', path);

      expect([400, 404]).toContain(res.status);
      expectError(res, res.status);
    }
  });
});

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1 document listing every route of the route table', async () => {
    const res = await vault.call('GET', '/openapi.json', undefined, { apiKey: null });

    expect(res.status).toBe(200);
    expect(res.json.openapi).toMatch(/^3\.1\./);
    const documented = Object.entries(res.json.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    // HEAD is declared wherever GET is: the vault answers it (shared/http/routes.ts methodsOf).
    expect(documented.sort()).toEqual(routes.filter((r) => r.op !== undefined).flatMap((r) => methodsOf(r).map((m) => `${m} ${r.path}`)).sort());
  });

  it('documents request bodies and the error shape', async () => {
    const res = await vault.call('GET', '/openapi.json', undefined, { apiKey: null });

    const create = res.json.paths['/api/create_agent_auth_profile'].post;
    const body = res.json.components.requestBodies[create.requestBody.$ref.replace('#/components/requestBodies/', '')];
    const schema = body.content['application/json'].schema;
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['name', 'agent_id', 'auth_data']));
    // Each error status the route can answer is listed, with the error shape and the codes it can carry.
    expect(Object.keys(create.responses)).toEqual(expect.arrayContaining(['400', '401', '404', '409', '413', '415']));
    const conflict = create.responses['409'].content['application/json'].schema;
    expect(conflict.allOf[0].$ref).toBe('#/components/schemas/Error');
    expect(conflict.allOf[1].properties.error.properties.code.enum).toEqual(['profile_exists']);
  });
});

describe('GET /healthz', () => {
  it('answers 200 without an API key', async () => {
    const res = await vault.call('GET', '/healthz', undefined, { apiKey: null });

    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'ok' });
  });
});

describe('robustness', () => {
  const jsonish = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.string(),
      fc.string({ unit: 'grapheme' }),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.array(tie('value'), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 3 }),
    ),
  })).value;
  const fieldValue = fc.oneof(jsonish, fc.constantFrom(AGENT, 'main', 'username', 'password', 'avt_', 'webhook', 'http://127.0.0.1:9/run'));
  const body = fc.dictionary(
    fc.constantFrom(
      'name',
      'agent_id',
      'auth_data',
      'auth_token',
      'should_save_session',
      'api_key',
      'input_args',
      'runner',
      'description',
      'parameters',
      'run_async',
      'x',
    ),
    fc.oneof(fieldValue, fc.dictionary(fc.constantFrom('username', 'password', 'type', 'url', 'otp'), fieldValue, { maxKeys: 3 })),
    { maxKeys: 6 },
  );
  const endpoints = ['/api/create_agent_auth_profile', '/api/upsert_agent_auth_profile', '/v1/agents', `/v1/agents/${AGENT}`];

  it('answers every arbitrary JSON body with a success or a JSON 4xx error, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...endpoints), body, async (path, b) => {
        const res = await vault.call(path === `/v1/agents/${AGENT}` ? 'PUT' : 'POST', path, b);

        expect(res.status).toBeLessThan(500);
        if (res.status >= 400) expectError(res, res.status);
        else expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      }),
      { numRuns: 150 },
    );
  });

  it('answers arbitrary raw bodies with a JSON 4xx error, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...endpoints), fc.string({ maxLength: 64 }), async (path, raw) => {
        const res = await vault.call('POST', path, undefined, { raw });

        expect(res.status).toBeLessThan(500);
        if (res.status >= 400) expectError(res, res.status);
      }),
      { numRuns: 60 },
    );
  });
});
