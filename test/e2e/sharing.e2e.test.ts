import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EchoUpstream, startEchoUpstream } from '#test/support/upstream';
import { startTestVault, type TestVault } from '#test/support/vault';

let vault: TestVault;
let upstream: EchoUpstream;

beforeAll(async () => {
  [vault, upstream] = await Promise.all([startTestVault(), startEchoUpstream()]);
});

afterAll(async () => {
  await Promise.all([vault?.close(), upstream?.close()]);
});

interface Key {
  readonly api_key: string;
  readonly key_id: string;
}

async function mint(role: 'admin' | 'member'): Promise<Key> {
  const res = await vault.call('POST', '/v1/api-keys', { name: `${role}-${randomBytes(2).toString('hex')}`, role });
  expect(res.status).toBe(201);
  return res.json;
}

let seq = 0;
/** An agent, and a bearer profile `p` on it created by `owner` (the bootstrap admin if omitted). */
async function profileOf(owner?: Key) {
  const agent = `share-e2e-${++seq}-${randomBytes(3).toString('hex')}`;
  const a = await vault.call('POST', '/v1/agents', { agent_id: agent, name: 'Share bot', input_args: [{ name: 'query' }], runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' } });
  expect(a.status).toBe(201);
  const res = await vault.call(
    'POST',
    `/v1/agents/${agent}/auth-profiles`,
    { name: 'p', auth_type: 'bearer', auth_data: { token: `canary-${randomBytes(8).toString('hex')}` }, allowed_hosts: [`127.0.0.1:${upstream.port}`] },
    { apiKey: owner?.api_key },
  );
  expect(res.status, res.text).toBe(201);
  return { agent, token: res.json.auth_token as string };
}

const as = (key: Key) => ({ apiKey: key.api_key });
const path = (agent: string, name = 'p') => `/v1/agents/${agent}/auth-profiles/${name}`;
const proxy = (agent: string, token: string, key: Key) =>
  vault.call('POST', '/v1/proxy', { agent_id: agent, auth_token: token, method: 'GET', url: `${upstream.url}/x` }, as(key));
const share = (agent: string, principal: string, permission: string, key?: Key) =>
  vault.call('POST', `${path(agent)}/share`, { principal, permission }, key ? as(key) : {});

describe('a member without a grant: the same 404 as an unknown profile', () => {
  it('on metadata, list, use (proxy, test, run) and delete — byte-identical to the answers once it is gone', async () => {
    const member = await mint('member');
    const { agent, token } = await profileOf();
    const use = {
      meta: () => vault.call('GET', path(agent), undefined, as(member)),
      del: () => vault.call('DELETE', path(agent), undefined, as(member)),
      proxy: () => proxy(agent, token, member),
      test: () => vault.call('POST', `${path(agent)}/test`, { auth_token: token, request: { method: 'GET', url: `${upstream.url}/x` } }, as(member)),
      run: () => vault.call('POST', '/run_agent', { agent_id: agent, auth_token: token, run_async: false }, as(member)),
      rotate: () => vault.call('POST', `${path(agent)}/rotate`, { auth_token: token }, as(member)),
      patch: () => vault.call('PATCH', path(agent), { active: false }, as(member)),
      usage: () => vault.call('GET', `${path(agent)}/usage`, undefined, as(member)),
      share: () => share(agent, 'role:member', 'read', member),
      unshare: () => vault.call('DELETE', `${path(agent)}/share/role:member`, undefined, as(member)),
      audit: () => vault.call('GET', `/v1/audit?agent_id=${agent}&profile=p`, undefined, as(member)),
    };

    const hidden: Record<string, { status: number; text: string }> = {};
    for (const [what, call] of Object.entries(use)) hidden[what] = await call();
    const list = await vault.call('GET', `/v1/agents/${agent}/auth-profiles`, undefined, as(member));
    // Nothing happened: the admin still sees it, unused.
    const after = await vault.call('GET', path(agent));
    expect(after.status).toBe(200);
    expect(after.json.use_count).toBe(0);
    expect(after.json).toMatchObject({ active: true, generation: 1, grants: [] });
    expect(list.status).toBe(200);
    expect(list.json.profiles).toEqual([]);

    expect((await vault.call('DELETE', path(agent))).status).toBe(204);
    for (const [what, call] of Object.entries(use)) {
      const gone = await call();
      expect(hidden[what]?.status, what).toBe(404);
      expect(hidden[what]?.text, what).toBe(gone.text);
    }
    expect(JSON.parse(hidden.meta?.text ?? '{}').error.code).toBe('profile_not_found');
  });
});

describe('the audit log for a member', () => {
  it('reads the view of a profile it may read; the tenant and agent views are 403 forbidden', async () => {
    const member = await mint('member');
    const { agent } = await profileOf();
    await share(agent, member.key_id, 'read');

    const own = await vault.call('GET', `/v1/audit?agent_id=${agent}&profile=p`, undefined, as(member));
    const tenantView = await vault.call('GET', '/v1/audit', undefined, as(member));
    const agentView = await vault.call('GET', `/v1/audit?agent_id=${agent}`, undefined, as(member));

    expect(own.status, own.text).toBe(200);
    expect(own.json.records.map((r: { action: string }) => r.action)).toEqual(['share', 'create']);
    expect(tenantView.status).toBe(403);
    expect(agentView.status).toBe(403);
    expect(tenantView.json.error.code).toBe('forbidden');
    expect((await vault.call('GET', '/v1/audit')).status).toBe(200);
  });
});

describe('grants', () => {
  it('read: sees and uses the profile, but a delete, replace or share is 403 forbidden', async () => {
    const member = await mint('member');
    const { agent, token } = await profileOf();
    expect((await share(agent, member.key_id, 'read')).status).toBe(200);

    expect((await vault.call('GET', path(agent), undefined, as(member))).status).toBe(200);
    expect((await vault.call('GET', `/v1/agents/${agent}/auth-profiles`, undefined, as(member))).json.profiles).toHaveLength(1);
    const used = await proxy(agent, token, member);
    expect(used.status, used.text).toBe(200);

    const del = await vault.call('DELETE', path(agent), undefined, as(member));
    expect(del.status).toBe(403);
    expect(del.json.error.code).toBe('forbidden');
    expect(del.json.error.message).toMatch(/read_write/);
    const put = await vault.call('PUT', path(agent), { auth_type: 'bearer', auth_data: { token: 'x' } }, as(member));
    expect(put.status).toBe(403);
    expect((await share(agent, member.key_id, 'read_write', member)).status).toBe(403);
    expect((await vault.call('GET', path(agent))).status).toBe(200);
  });

  it('read_write: replaces, shares and deletes; the replace keeps owner and grants', async () => {
    const member = await mint('member');
    const other = await mint('member');
    const { agent } = await profileOf();
    await share(agent, member.key_id, 'read_write');

    const put = await vault.call('PUT', path(agent), { auth_type: 'bearer', auth_data: { token: 'new' }, allowed_hosts: [`127.0.0.1:${upstream.port}`] }, as(member));
    expect(put.status, put.text).toBe(200);
    expect(put.json.type).toBe('replace');
    expect(put.json.profile.grants).toEqual([{ principal: member.key_id, permission: 'read_write' }]);
    expect((await proxy(agent, put.json.auth_token, member)).status).toBe(200);

    const shared = await share(agent, other.key_id, 'read', member);
    expect(shared.status).toBe(200);
    expect(shared.json.visibility).toBe('shared');
    expect((await vault.call('GET', path(agent), undefined, as(other))).status).toBe(200);

    expect((await vault.call('DELETE', `${path(agent)}?force=true`, undefined, as(member))).status).toBe(204);
    expect((await vault.call('GET', path(agent))).status).toBe(404);
  });

  it('role:member grants every member key; unsharing takes it back at once', async () => {
    const m1 = await mint('member');
    const m2 = await mint('member');
    const { agent, token } = await profileOf();

    expect((await share(agent, 'role:member', 'read')).status).toBe(200);
    expect((await proxy(agent, token, m1)).status).toBe(200);
    expect((await proxy(agent, token, m2)).status).toBe(200);

    const un = await vault.call('DELETE', `${path(agent)}/share/role:member`);
    expect(un.status).toBe(200);
    expect(un.json).toMatchObject({ visibility: 'private', grants: [] });
    expect((await proxy(agent, token, m1)).status).toBe(404);
    expect((await vault.call('GET', path(agent), undefined, as(m2))).status).toBe(404);
    expect((await vault.call('DELETE', `${path(agent)}/share/role:member`)).json.error.code).toBe('grant_not_found');
  });

  it('a member owns what it creates; another member does not see it; admins see everything', async () => {
    const owner = await mint('member');
    const stranger = await mint('member');
    const { agent, token } = await profileOf(owner);

    const meta = await vault.call('GET', path(agent), undefined, as(owner));
    expect(meta.json).toMatchObject({ owner: owner.key_id, visibility: 'private', grants: [] });
    expect((await proxy(agent, token, owner)).status).toBe(200);
    expect((await vault.call('GET', path(agent), undefined, as(stranger))).status).toBe(404);
    expect((await vault.call('GET', path(agent))).status).toBe(200);
    expect((await proxy(agent, token, await mint('admin'))).status).toBe(200);
  });

  it('refuses a share to a key of no tenant key (400) and a malformed principal (400)', async () => {
    const { agent } = await profileOf();
    const unknown = await share(agent, '0123456789abcdef', 'read');
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.code).toBe('unknown_principal');
    const bad = await share(agent, 'role:admin', 'read');
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/principal/);
    const perm = await share(agent, 'role:member', 'write');
    expect(perm.status).toBe(400);
  });
});

describe('compatible endpoints keep working for existing keys', () => {
  it('the bootstrap key (an admin) creates, upserts and runs as before', async () => {
    const { agent } = await profileOf();
    const up = await vault.call('POST', '/api/upsert_agent_auth_profile', { agent_id: agent, name: 'p', auth_type: 'bearer', auth_data: { token: 'v2' } });
    expect(up.status).toBe(200);
    expect(up.json.type).toBe('replace');
  });
});
