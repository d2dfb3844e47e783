import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestVault, type TestVault } from '#test/support/vault';

/**
 * Strict input over HTTP: every request body and query object refuses a field it does not know
 * with 400 unknown_field, so a misspelled security setting is never dropped silently; names and
 * ids refuse invisible Unicode format characters instead of normalising them away.
 */

let vault: TestVault;

beforeAll(async () => {
  vault = await startTestVault();
});

afterAll(async () => {
  await vault?.close();
});

let seq = 0;
const runner = { type: 'webhook', url: 'http://127.0.0.1:9/run' };

async function newAgent() {
  const agentId = `strict-${++seq}-${randomBytes(3).toString('hex')}`;
  const res = await vault.call('POST', '/v1/agents', { agent_id: agentId, name: 'Strict bot', input_args: [{ name: 'password' }], runner });
  expect(res.status, res.text).toBe(201);
  return agentId;
}

describe('unknown fields in request bodies', () => {
  it('refuses a misspelled allowed_source_ips on a native create with 400 unknown_field, and creates nothing', async () => {
    const agent = await newAgent();

    const res = await vault.call('POST', `/v1/agents/${agent}/auth-profiles`, { name: 'main', auth_data: { password: 'pw' }, allowed_source_ip: ['10.0.0.0/8'] });

    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('unknown_field');
    expect(res.json.error.message).toBe(
      'Unknown field "allowed_source_ip" in request body; did you mean "allowed_source_ips"? That one is not set here: set it with PATCH /v1/agents/{agent_id}/auth-profiles/{name} once the profile exists',
    );
    expect(res.json.error.unknown_fields).toEqual([{ field: 'allowed_source_ip', suggestion: 'allowed_source_ips', hint: expect.stringContaining('PATCH') }]);
    expect((await vault.call('GET', `/v1/agents/${agent}/auth-profiles/main`)).status).toBe(404);
  });

  it('names allowed_method and expires_in_hour on a profile with the fields they meant', async () => {
    const agent = await newAgent();

    const res = await vault.call('POST', `/v1/agents/${agent}/auth-profiles`, {
      name: 'main',
      auth_type: 'bearer',
      auth_data: { token: 't' },
      allowed_hosts: ['api.example.com'],
      allowed_method: ['GET'],
      expires_in_hour: 1,
    });

    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('unknown_field');
    expect(res.json.error.unknown_fields).toEqual([
      { field: 'allowed_method', suggestion: 'allowed_methods' },
      { field: 'expires_in_hour', suggestion: 'expires_in_hours' },
    ]);
    expect(res.json.error.message).toContain('"allowed_method" (did you mean "allowed_methods"?)');
    expect(res.json.error.message).toContain('"expires_in_hour" (did you mean "expires_in_hours"?)');
  });

  it('refuses credential_delivry on an agent, suggesting credential_delivery, and registers nothing', async () => {
    const agentId = `strict-agent-${randomBytes(3).toString('hex')}`;

    const res = await vault.call('POST', '/v1/agents', { agent_id: agentId, name: 'Typo', input_args: [], runner, credential_delivry: 'proxy' });

    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({
      code: 'unknown_field',
      message: 'Unknown field "credential_delivry" in request body; did you mean "credential_delivery"?',
      unknown_fields: [{ field: 'credential_delivry', suggestion: 'credential_delivery' }],
    });
    expect((await vault.call('GET', `/v1/agents/${agentId}`)).status).toBe(404);
  });

  it('refuses an unknown field inside an input argument by its path', async () => {
    const res = await vault.call('POST', '/v1/agents', { name: 'Nested', input_args: [{ name: 'otp', requird: true }], runner });

    expect(res.status).toBe(400);
    expect(res.json.error.unknown_fields).toEqual([{ field: 'input_args[0].requird', suggestion: 'required' }]);
  });

  it('refuses unknown fields on the compatible create and upsert', async () => {
    const agent = await newAgent();

    const created = await vault.call('POST', '/api/create_agent_auth_profile', { name: 'main', agent_id: agent, auth_data: { password: 'pw' }, allowed_methods: ['GET'], expires_in_hour: 2 });
    const upserted = await vault.call('POST', '/api/upsert_agent_auth_profile', { name: 'main', agent_id: agent, auth_data: { password: 'pw' }, allowed_method: ['GET'] });

    expect([created.status, upserted.status]).toEqual([400, 400]);
    expect(created.json.error.unknown_fields).toEqual([{ field: 'expires_in_hour', suggestion: 'expires_in_hours' }]);
    expect(upserted.json.error.unknown_fields).toEqual([{ field: 'allowed_method', suggestion: 'allowed_methods' }]);
  });

  it('refuses an unknown auth_config field of a typed profile', async () => {
    const agent = await newAgent();

    const res = await vault.call('POST', `/v1/agents/${agent}/auth-profiles`, {
      name: 'key',
      auth_type: 'api_key',
      auth_config: { api_key_method: 'header', api_key_name: 'X-Key' },
      auth_data: { 'X-Key': 'k' },
    });

    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('unknown_field');
    expect(res.json.error.unknown_fields).toEqual([{ field: 'auth_config.api_key_name' }]);
  });
});

describe('the body field api_key on the compatible routes', () => {
  it('still authenticates create, upsert and run_agent without a header, and is not an unknown field', async () => {
    const agent = await newAgent();
    const asBody = { apiKey: null };

    const created = await vault.call('POST', '/api/create_agent_auth_profile', { api_key: vault.apiKey, name: 'main', agent_id: agent, auth_data: { password: 'pw' } }, asBody);
    const upserted = await vault.call(
      'POST',
      '/api/upsert_agent_auth_profile',
      { api_key: vault.apiKey, agent_id: agent, auth_token: created.json?.auth_token, auth_data: { password: 'pw2' }, should_save_session: false },
      asBody,
    );
    const run = await vault.call('POST', '/run_agent', { api_key: vault.apiKey, agent_id: agent, auth_token: created.json?.auth_token, parameters: {}, run_async: true }, asBody);

    expect(created.status, created.text).toBe(200);
    expect(upserted.status, upserted.text).toBe(200);
    expect(upserted.json.type).toBe('update');
    expect(run.status, run.text).toBe(200);
  });
});

describe('unknown query parameters', () => {
  it('refuses a misspelled limit on a list with 400 unknown_field', async () => {
    const res = await vault.call('GET', '/v1/agents?limt=5');

    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'unknown_field', message: 'Unknown field "limt" in query string; did you mean "limit"?' });
  });

  it('refuses an unknown parameter of the audit query', async () => {
    const res = await vault.call('GET', '/v1/audit?agent=x');

    expect(res.status).toBe(400);
    expect(res.json.error.unknown_fields).toEqual([{ field: 'agent', suggestion: 'agent_id' }]);
  });
});

describe('Unicode format characters in names', () => {
  it('refuses an API-key name with a trailing U+FEFF instead of trimming it to another key\'s name', async () => {
    const res = await vault.call('POST', '/v1/api-keys', { name: 'ops\ufeff' });

    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('validation_error');
    expect(res.json.error.message).toContain('U+FEFF');
    expect(res.json.error.message).toContain('Unicode format character (category Cf)');
  });

  it.each([
    ['U+FEFF', 'main\ufeff'],
    ['U+200B', 'main\u200b'],
  ])('refuses a profile name with %s, saying which character class is refused', async (codePoint, name) => {
    const agent = await newAgent();

    const res = await vault.call('POST', '/api/upsert_agent_auth_profile', { agent_id: agent, name, auth_data: { password: 'pw' } });

    expect(res.status).toBe(400);
    expect(res.json.error.message).toContain(`${codePoint} at position 4 is a Unicode format character (category Cf)`);
  });
});
