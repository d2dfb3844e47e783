import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatToken } from '#shared/crypto/token';
import { startTestVault, type TestVault } from '#test/support/vault';

let vault: TestVault;

beforeAll(async () => {
  vault = await startTestVault();
});

afterAll(async () => {
  await vault?.close();
});

let seq = 0;
/** Registers an agent over HTTP and returns its id. */
async function newAgent(args: readonly string[] = ['username', 'password', 'otp_seed']) {
  const agentId = `e2e-${++seq}-${randomBytes(3).toString('hex')}`;
  const res = await vault.call('POST', '/v1/agents', {
    agent_id: agentId,
    name: 'E2E bot',
    input_args: args.map((name) => ({ name })),
    runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
  });
  expect(res.status).toBe(201);
  return agentId;
}

const create = (body: unknown, opts?: Parameters<TestVault['call']>[3]) => vault.call('POST', '/api/create_agent_auth_profile', body, opts);
const upsert = (body: unknown) => vault.call('POST', '/api/upsert_agent_auth_profile', body);

describe('the compatible profile flow', () => {
  it('creates an agent, creates, updates, replaces, lists, reads and deletes a profile', async () => {
    const canary = `canary-pw-${randomBytes(6).toString('hex')}`;
    // create agent
    const agent = await vault.call('POST', '/v1/agents', {
      agent_id: 'flow-bot',
      name: 'Flow bot',
      input_args: [{ name: 'username' }, { name: 'password', required: true }],
      runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
    });
    expect(agent.status).toBe(201);

    // create profile
    const created = await create({ name: 'main', agent_id: 'flow-bot', auth_data: { username: 'ann', password: `${canary}-1` } });
    expect(created.status).toBe(200);
    expect(Object.keys(created.json)).toEqual(['auth_token']);
    const token = created.json.auth_token as string;
    expect(token).toMatch(/^avt_[A-Za-z0-9_-]{70}$/);

    // upsert: update in place
    const updated = await upsert({ agent_id: 'flow-bot', auth_token: token, auth_data: { password: `${canary}-2` } });
    expect(updated.status).toBe(200);
    expect(updated.json).toEqual({ auth_token: token, name: 'main', type: 'update' });

    // upsert: replace by name
    const replaced = await upsert({ agent_id: 'flow-bot', name: 'main', auth_data: { username: 'bob', password: `${canary}-3` } });
    expect(replaced.status).toBe(200);
    expect(replaced.json).toMatchObject({ name: 'main', type: 'replace' });
    expect(replaced.json.auth_token).not.toBe(token);
    const oldTokenUse = await upsert({ agent_id: 'flow-bot', auth_token: token, auth_data: { password: 'x' } });
    expect(oldTokenUse.status).toBe(404);
    expect(oldTokenUse.json.error.code).toBe('profile_not_found');

    // list
    const list = await vault.call('GET', '/v1/agents/flow-bot/auth-profiles');
    expect(list.status).toBe(200);
    expect(list.json.profiles).toHaveLength(1);
    expect(list.json.profiles[0]).toMatchObject({ name: 'main', fields: ['password', 'username'], generation: 2 });
    expect(list.text).not.toContain(canary);
    expect(list.text).not.toContain('ann');

    // get metadata
    const meta = await vault.call('GET', '/v1/agents/flow-bot/auth-profiles/main');
    expect(meta.status).toBe(200);
    expect(meta.json).toMatchObject({ agent_id: 'flow-bot', name: 'main', fields: ['password', 'username'], generation: 2, use_count: 0 });
    expect(meta.text).not.toContain(canary);
    expect(meta.text).not.toContain(replaced.json.auth_token);

    // delete
    const deleted = await vault.call('DELETE', '/v1/agents/flow-bot/auth-profiles/main');
    expect(deleted.status).toBe(204);
    expect((await vault.call('GET', '/v1/agents/flow-bot/auth-profiles/main')).status).toBe(404);
    const deadToken = await upsert({ agent_id: 'flow-bot', auth_token: replaced.json.auth_token, auth_data: { password: 'x' } });
    expect(deadToken.status).toBe(404);
  });
});

describe('POST /api/create_agent_auth_profile', () => {
  it('answers with a token that is never cached', async () => {
    const agent = await newAgent();

    const res = await create({ name: 'main', agent_id: agent, auth_data: { password: 'pw' } });

    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('accepts the API key in the X-Api-Key header', async () => {
    const agent = await newAgent();

    const res = await create(
      { name: 'main', agent_id: agent, auth_data: { password: 'pw' } },
      { apiKey: null, headers: { 'x-api-key': vault.apiKey } },
    );

    expect(res.status).toBe(200);
  });

  it('accepts the API key in the body field api_key', async () => {
    const agent = await newAgent();

    const res = await create({ name: 'main', agent_id: agent, api_key: vault.apiKey, auth_data: { password: 'pw' } }, { apiKey: null });

    expect(res.status).toBe(200);
  });

  it('answers 409 profile_exists for a name that exists', async () => {
    const agent = await newAgent();
    await create({ name: 'main', agent_id: agent, auth_data: { password: 'pw' } });

    const res = await create({ name: 'main', agent_id: agent, auth_data: { password: 'pw-2' } });

    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe('profile_exists');
  });

  it('answers 400 naming unknown auth_data keys and the declared ones', async () => {
    const agent = await newAgent(['username', 'password']);

    const res = await create({ name: 'main', agent_id: agent, auth_data: { password: 'pw', otp: '1' } });

    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('unknown_input_args');
    expect(res.json.error.message).toContain('"otp"');
    expect(res.json.error.message).toContain('declared: username, password');
  });

  it('answers 413 for a value over 16 KiB, saying why', async () => {
    const agent = await newAgent();

    const res = await create({ name: 'main', agent_id: agent, auth_data: { password: 'x'.repeat(16 * 1024 + 1) } });

    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe('payload_too_large');
    expect(res.json.error.message).toContain('400 KB');
  });

  it('answers 404 agent_not_found for an unknown agent', async () => {
    const res = await create({ name: 'main', agent_id: 'no-such-agent', auth_data: { password: 'pw' } });

    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('agent_not_found');
  });
});

describe('POST /api/upsert_agent_auth_profile', () => {
  it('creates under a new name', async () => {
    const agent = await newAgent();

    const res = await upsert({ agent_id: agent, name: 'main', auth_data: { password: 'pw' } });

    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ name: 'main', type: 'create', auth_token: expect.stringMatching(/^avt_/) });
  });

  it('merges an update into the stored fields', async () => {
    const agent = await newAgent();
    const { json } = await create({ name: 'main', agent_id: agent, auth_data: { username: 'ann' } });

    await upsert({ agent_id: agent, auth_token: json.auth_token, auth_data: { password: 'pw' } });

    const meta = await vault.call('GET', `/v1/agents/${agent}/auth-profiles/main`);
    expect(meta.json).toMatchObject({ fields: ['password', 'username'], generation: 1, record_version: 2 });
  });

  it('answers the identical 404 body for an unknown, a replaced and another agent’s token', async () => {
    const [agent, other] = [await newAgent(), await newAgent()];
    const live = (await create({ name: 'main', agent_id: agent, auth_data: { password: 'pw' } })).json.auth_token;
    const replaced = (await create({ name: 'old', agent_id: agent, auth_data: { password: 'pw' } })).json.auth_token;
    await upsert({ agent_id: agent, name: 'old', auth_data: { password: 'pw2' } });
    const unknown = formatToken(randomBytes(16), randomBytes(32)); // well-formed, names no profile

    const answers = await Promise.all([
      upsert({ agent_id: agent, auth_token: unknown, auth_data: { password: 'x' } }),
      upsert({ agent_id: agent, auth_token: replaced, auth_data: { password: 'x' } }),
      upsert({ agent_id: other, auth_token: live, auth_data: { password: 'x' } }),
    ]);

    for (const a of answers) {
      expect(a.status).toBe(404);
      expect(a.text).toBe(answers[0]?.text);
    }
    expect(answers[0]?.json.error.code).toBe('profile_not_found');
  });

  it('answers a token in another format (a UUID, a Kura token, a mistyped one) with the identical 404 an unknown token gets (docs/api.md, "Kura drop-in")', async () => {
    const agent = await newAgent();
    const { json } = await create({ name: 'main', agent_id: agent, auth_data: { password: 'pw' } });
    const token = json.auth_token as string;
    const typo = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    const expected = await upsert({ agent_id: agent, auth_token: formatToken(randomBytes(16), randomBytes(32)), auth_data: { password: 'x' } });

    const answers = [];
    for (const t of [randomUUID(), `kura_${randomBytes(24).toString('hex')}`, typo, 'avt_not-a-token']) answers.push(await upsert({ agent_id: agent, auth_token: t, auth_data: { password: 'x' } }));

    expect(expected.status).toBe(404);
    expect(expected.json.error.code).toBe('profile_not_found');
    for (const a of answers) expect({ status: a.status, text: a.text }).toEqual({ status: 404, text: expected.text });
    expect(answers.map((a) => a.text).join('')).not.toContain(typo);
    const meta = await vault.call('GET', `/v1/agents/${agent}/auth-profiles/main`);
    expect(meta.json.record_version).toBe(1);
  });

  it('keeps 400 invalid_auth_token on the native routes, where a token is only ever this vault\'s', async () => {
    const agent = await newAgent();
    await create({ name: 'main', agent_id: agent, auth_data: { password: 'pw' } });

    const put = await vault.call('PUT', `/v1/agents/${agent}/auth-profiles/main`, { auth_token: randomUUID(), auth_data: { password: 'x' } });

    expect(put.status).toBe(400);
    expect(put.json.error.code).toBe('invalid_auth_token');
  });
});

describe('native profile routes', () => {
  it('pages through profiles with limit and cursor', async () => {
    const agent = await newAgent();
    for (let i = 0; i < 7; i++) await create({ name: `p${i}`, agent_id: agent, auth_data: { password: 'pw' } });

    const names: string[] = [];
    const sizes: number[] = [];
    let cursor: string | undefined;
    do {
      const res = await vault.call(
        'GET',
        `/v1/agents/${agent}/auth-profiles?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      expect(res.status).toBe(200);
      sizes.push(res.json.profiles.length);
      names.push(...res.json.profiles.map((p: { name: string }) => p.name));
      cursor = res.json.next_cursor;
    } while (cursor && sizes.length < 10);

    expect(sizes).toEqual([3, 3, 1]);
    expect(names.sort()).toEqual(['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6']);
  });

  it('answers 400 for a cursor of another agent', async () => {
    const [agent, other] = [await newAgent(), await newAgent()];
    for (const name of ['a', 'b']) await create({ name, agent_id: other, auth_data: { password: 'pw' } });
    const { json } = await vault.call('GET', `/v1/agents/${other}/auth-profiles?limit=1`);

    const res = await vault.call('GET', `/v1/agents/${agent}/auth-profiles?limit=1&cursor=${encodeURIComponent(json.next_cursor)}`);

    expect(res.status).toBe(400);
    expect(res.json.error.message).toContain('cursor');
  });

  it('reads a profile whose name needs URL encoding', async () => {
    const agent = await newAgent();
    await create({ name: 'work login ü', agent_id: agent, auth_data: { password: 'pw' } });

    const res = await vault.call('GET', `/v1/agents/${agent}/auth-profiles/${encodeURIComponent('work login ü')}`);

    expect(res.status).toBe(200);
    expect(res.json.name).toBe('work login ü');
  });

  it('answers 404 for deleting a profile that does not exist', async () => {
    const agent = await newAgent();

    const res = await vault.call('DELETE', `/v1/agents/${agent}/auth-profiles/nope`);

    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('profile_not_found');
  });

  it('answers 404 agent_not_found when listing an unknown agent', async () => {
    const res = await vault.call('GET', '/v1/agents/no-such-agent/auth-profiles');

    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('agent_not_found');
  });
});
