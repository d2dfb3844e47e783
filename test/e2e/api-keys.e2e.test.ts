import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestVault, type TestVault } from '#test/support/vault';

let vault: TestVault;

beforeAll(async () => {
  vault = await startTestVault();
});

afterAll(async () => {
  await vault?.close();
});

async function mint(role: 'admin' | 'member', name = `${role} key`) {
  const res = await vault.call('POST', '/v1/api-keys', { name, role });
  expect(res.status).toBe(201);
  return res.json as { api_key: string; key_id: string; name: string; role: string; created_at: string };
}

describe('API keys as principals over HTTP', () => {
  it('the bootstrap key (no role given) is an admin that mints, lists and revokes keys', async () => {
    const member = await mint('member', 'ci');

    expect(member.api_key).toMatch(/^avk_[A-Za-z0-9_-]{43}$/);
    const list = await vault.call('GET', '/v1/api-keys');
    expect(list.status).toBe(200);
    expect(list.json.api_keys).toContainEqual({ key_id: member.key_id, name: 'ci', role: 'member', created_at: member.created_at });
    expect(list.text).not.toContain(member.api_key);
    expect(list.text).not.toContain(vault.apiKey);
  });

  it('a member gets 403 forbidden with a clear message on every key route, and keeps working elsewhere', async () => {
    const member = await mint('member');

    for (const [method, path, body] of [
      ['POST', '/v1/api-keys', { name: 'x', role: 'admin' }],
      ['GET', '/v1/api-keys', undefined],
      ['DELETE', `/v1/api-keys/${member.key_id}`, undefined],
    ] as const) {
      const res = await vault.call(method, path, body, { apiKey: member.api_key });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.json.error.code).toBe('forbidden');
      expect(res.json.error.message).toMatch(/needs an admin API key/);
    }
    expect((await vault.call('GET', '/v1/agents', undefined, { apiKey: member.api_key })).status).toBe(200);
  });

  it('a revoked key answers 401 on its very next request', async () => {
    const doomed = await mint('admin', 'doomed');
    expect((await vault.call('GET', '/v1/agents', undefined, { apiKey: doomed.api_key })).status).toBe(200);

    const del = await vault.call('DELETE', `/v1/api-keys/${doomed.key_id}`);

    expect(del.status).toBe(204);
    const after = await vault.call('GET', '/v1/agents', undefined, { apiKey: doomed.api_key });
    expect(after.status).toBe(401);
    expect(after.json.error.code).toBe('unauthorized');
  });

  it('answers 404 api_key_not_found for an unknown key id and 400 for a malformed one', async () => {
    const unknown = await vault.call('DELETE', '/v1/api-keys/0000000000000000');
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe('api_key_not_found');

    const bad = await vault.call('DELETE', '/v1/api-keys/not-a-key-id');
    expect(bad.status).toBe(400);
  });

  it('answers 400 naming the field for a bad role or a missing name', async () => {
    const res = await vault.call('POST', '/v1/api-keys', { name: 'x', role: 'owner' });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/role/);
    const noName = await vault.call('POST', '/v1/api-keys', { role: 'member' });
    expect(noName.status).toBe(400);
    expect(noName.json.error.message).toMatch(/name/);
  });
});
