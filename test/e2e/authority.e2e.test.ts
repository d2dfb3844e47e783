/**
 * The second security review's authority findings, over HTTP against the local server: agents
 * have owners, delivery modes cannot be downgraded silently, runs and audit are readable only by
 * who may, and the gate checks access before the caller IP and before the token.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { slotFor } from '#shared/credentials/profile-keys';
import { formatToken } from '#shared/crypto/token';
import { type ReceivedCall, startTestRunner } from '#test/support/runner';
import { type EchoUpstream, startEchoUpstream } from '#test/support/upstream';
import { startTestVault, type TestVault } from '#test/support/vault';

let vault: TestVault;
let upstream: EchoUpstream;
let runner: Awaited<ReturnType<typeof startTestRunner>>;

beforeAll(async () => {
  [vault, upstream, runner] = await Promise.all([startTestVault(), startEchoUpstream(), startTestRunner(() => ({ body: { output: { ok: true } } }))]);
});

afterAll(async () => {
  await Promise.all([vault?.close(), upstream?.close(), runner?.close()]);
});

interface Key {
  readonly api_key: string;
  readonly key_id: string;
}

async function mint(role: 'admin' | 'member'): Promise<Key> {
  const res = await vault.call('POST', '/v1/api-keys', { name: `${role}-${randomBytes(2).toString('hex')}`, role });
  expect(res.status, res.text).toBe(201);
  return res.json;
}

const as = (key?: Key) => (key ? { apiKey: key.api_key } : {});
let seq = 0;
const agentBody = (agentId: string, delivery?: 'parameters' | 'proxy') => ({
  agent_id: agentId,
  name: 'Authority bot',
  input_args: [{ name: 'query' }],
  runner: { type: 'webhook', url: runner.url },
  ...(delivery ? { credential_delivery: delivery } : {}),
});

/** The body of a PUT: the definition without the id (the path names it). */
const putBody = (agentId: string, delivery?: 'parameters' | 'proxy') => {
  const { agent_id: _id, ...definition } = agentBody(agentId, delivery);
  return definition;
};

/** A new agent registered by `owner` (the bootstrap admin if omitted). */
async function agentOf(owner?: Key, delivery?: 'parameters' | 'proxy') {
  const agent = `authz-e2e-${++seq}-${randomBytes(3).toString('hex')}`;
  const res = await vault.call('POST', '/v1/agents', agentBody(agent, delivery), as(owner));
  expect(res.status, res.text).toBe(201);
  return agent;
}

/** A bearer profile `name` on `agent`, created by `owner`. */
async function profileOn(agent: string, owner?: Key, name = 'p') {
  const secret = `canary-${randomBytes(8).toString('hex')}`;
  const res = await vault.call(
    'POST',
    `/v1/agents/${agent}/auth-profiles`,
    { name, auth_type: 'bearer', auth_data: { token: secret }, allowed_hosts: [`127.0.0.1:${upstream.port}`] },
    as(owner),
  );
  expect(res.status, res.text).toBe(201);
  return { token: res.json.auth_token as string, secret };
}

describe('agents have owners (finding 1)', () => {
  it('refuses a member who does not own the agent: rotate, PUT and DELETE answer 403 and change nothing', async () => {
    const [owner, other] = await Promise.all([mint('member'), mint('member')]);
    const agent = await agentOf(owner);
    const before = await vault.call('GET', `/v1/agents/${agent}`, undefined, as(other));
    expect(before.status).toBe(200);
    expect(before.json.owner).toBe(owner.key_id);

    const rotate = await vault.call('POST', `/v1/agents/${agent}/rotate-signing-secret`, undefined, as(other));
    const put = await vault.call('PUT', `/v1/agents/${agent}`, { ...putBody(agent), runner: { type: 'webhook', url: 'http://127.0.0.1:1/attacker' } }, as(other));
    const del = await vault.call('DELETE', `/v1/agents/${agent}?force=true`, undefined, as(other));
    for (const res of [rotate, put, del]) {
      expect(res.status, res.text).toBe(403);
      expect(res.json.error.code).toBe('forbidden');
      expect(res.text).not.toContain('avs_');
    }
    const after = await vault.call('GET', `/v1/agents/${agent}`);
    expect(after.json).toEqual(before.json);
  });

  it('lets the owner and an admin change the agent', async () => {
    const owner = await mint('member');
    const agent = await agentOf(owner);
    expect((await vault.call('POST', `/v1/agents/${agent}/rotate-signing-secret`, undefined, as(owner))).status).toBe(200);
    expect((await vault.call('PUT', `/v1/agents/${agent}`, { ...putBody(agent), name: 'Renamed' }, as(owner))).json.name).toBe('Renamed');
    expect((await vault.call('PUT', `/v1/agents/${agent}`, { ...putBody(agent), name: 'By admin' })).status).toBe(200);
    expect((await vault.call('DELETE', `/v1/agents/${agent}`, undefined, as(owner))).status).toBe(204);
  });

  it("refuses the owner's forced delete over profiles it may not delete, naming what it may see and counting the rest", async () => {
    const [owner, reader] = await Promise.all([mint('member'), mint('member')]);
    const agent = await agentOf(owner);
    await profileOn(agent, undefined, 'admins-private');
    await profileOn(agent, reader, 'shared-read');
    const share = await vault.call('POST', `/v1/agents/${agent}/auth-profiles/shared-read/share`, { principal: owner.key_id, permission: 'read' }, as(reader));
    expect(share.status, share.text).toBe(200);
    await profileOn(agent, owner, 'own');

    const del = await vault.call('DELETE', `/v1/agents/${agent}?force=true`, undefined, as(owner));
    expect(del.status, del.text).toBe(403);
    expect(del.json.error.code).toBe('forbidden');
    expect(del.json.error.message).toContain('"shared-read"');
    expect(del.json.error.message).toContain('1 auth profile your key cannot see');
    expect(del.json.error.message).not.toContain('admins-private');
    // Nothing went: every profile is still there for the admin.
    const list = await vault.call('GET', `/v1/agents/${agent}/auth-profiles`);
    expect(list.json.profiles.map((p: { name: string }) => p.name).sort()).toEqual(['admins-private', 'own', 'shared-read']);
    // An admin may.
    expect((await vault.call('DELETE', `/v1/agents/${agent}?force=true`)).status).toBe(204);
  });

  it('records agent changes in the audit log', async () => {
    const owner = await mint('member');
    const agent = await agentOf(owner);
    await vault.call('POST', `/v1/agents/${agent}/rotate-signing-secret`, undefined, as(owner));
    await vault.call('PUT', `/v1/agents/${agent}`, putBody(agent), as(owner));
    const audit = await vault.call('GET', `/v1/audit?agent_id=${agent}`);
    expect(audit.json.records.map((r: { action: string; key_id: string }) => [r.action, r.key_id])).toEqual([
      ['agent_update', owner.key_id],
      ['agent_rotate_signing_secret', owner.key_id],
      ['agent_create', owner.key_id],
    ]);
  });
});

describe('credential delivery cannot be downgraded silently (finding 2)', () => {
  it('keeps the stored delivery when a PUT leaves credential_delivery out', async () => {
    const agent = await agentOf(undefined, 'proxy');
    const put = await vault.call('PUT', `/v1/agents/${agent}`, putBody(agent));
    expect(put.status, put.text).toBe(200);
    expect(put.json.credential_delivery).toBe('proxy');
    expect((await vault.call('GET', `/v1/agents/${agent}`)).json.credential_delivery).toBe('proxy');
  });

  it('refuses a run after an explicit downgrade to parameters with 409 delivery_changed, audited, until the token holder approves it', async () => {
    const agent = await agentOf(undefined, 'proxy');
    const { token, secret } = await profileOn(agent);
    const calls = runner.calls.length;
    const down = await vault.call('PUT', `/v1/agents/${agent}`, putBody(agent, 'parameters'));
    expect(down.json.credential_delivery).toBe('parameters');

    const run = await vault.call('POST', '/run_agent', { agent_id: agent, auth_token: token, run_async: false });
    expect(run.status, run.text).toBe(409);
    expect(run.json.error.code).toBe('delivery_changed');
    // The runner was never called, so it never saw the secret.
    expect(runner.calls.length).toBe(calls);
    const audit = await vault.call('GET', `/v1/audit?agent_id=${agent}&profile=p&action=run`);
    expect(audit.json.records[0]).toMatchObject({ status: 409, result: 'delivery_changed' });

    // The token holder approves the new mode by updating the profile with its token.
    const approve = await vault.call('POST', '/api/upsert_agent_auth_profile', { agent_id: agent, auth_token: token, auth_data: { token: secret } });
    expect(approve.status, approve.text).toBe(200);
    const again = await vault.call('POST', '/run_agent', { agent_id: agent, auth_token: token, run_async: false });
    expect(again.status, again.text).toBe(200);
    const received = runner.calls.at(-1) as ReceivedCall;
    expect(received.body.parameters.token).toBe(secret);
  });

  it('lets an agent move from parameters to proxy without a new approval (the runner gets less)', async () => {
    const agent = await agentOf(undefined, 'parameters');
    const { token, secret } = await profileOn(agent);
    await vault.call('PUT', `/v1/agents/${agent}`, putBody(agent, 'proxy'));
    const run = await vault.call('POST', '/run_agent', { agent_id: agent, auth_token: token, run_async: false });
    expect(run.status, run.text).toBe(200);
    expect((runner.calls.at(-1) as ReceivedCall).rawBody).not.toContain(secret);
  });
});

describe('runs and audit belong to the profile incarnation (finding 7)', () => {
  it("does not show an admin's run or audit records to a member that later creates a profile of the same name", async () => {
    const member = await mint('member');
    const agent = await agentOf();
    const admins = await profileOn(agent, undefined, 'ops');
    const run = await vault.call('POST', '/run_agent', { agent_id: agent, auth_token: admins.token, run_async: false });
    expect(run.status, run.text).toBe(200);
    expect((await vault.call('DELETE', `/v1/agents/${agent}/auth-profiles/ops?force=true`)).status).toBe(204);
    await profileOn(agent, member, 'ops');

    const audit = await vault.call('GET', `/v1/audit?agent_id=${agent}&profile=ops`, undefined, as(member));
    expect(audit.status, audit.text).toBe(200);
    expect(audit.json.records.map((r: { action: string }) => r.action)).toEqual(['create']);
    expect(audit.text).not.toContain(run.json.session_id);
    const usage = await vault.call('GET', `/v1/agents/${agent}/auth-profiles/ops/usage`, undefined, as(member));
    expect(usage.json.uses).toEqual([]);

    const read = await vault.call('GET', `/v1/runs/${run.json.session_id}`, undefined, as(member));
    expect(read.status).toBe(404);
    expect(read.json.error.code).toBe('run_not_found');
    expect((await vault.call('GET', `/v1/runs/${run.json.session_id}`)).status).toBe(200);
  });

  it('shows a run to the key that started it and to keys with read on its profile', async () => {
    const [starter, reader, stranger] = await Promise.all([mint('member'), mint('member'), mint('member')]);
    const agent = await agentOf();
    const { token } = await profileOn(agent, starter);
    await vault.call('POST', `/v1/agents/${agent}/auth-profiles/p/share`, { principal: reader.key_id, permission: 'read' }, as(starter));
    const run = await vault.call('POST', '/run_agent', { agent_id: agent, auth_token: token, run_async: false }, as(starter));
    expect(run.status, run.text).toBe(200);
    const path = `/v1/runs/${run.json.session_id}`;
    expect((await vault.call('GET', path, undefined, as(starter))).status).toBe(200);
    expect((await vault.call('GET', path, undefined, as(reader))).status).toBe(200);
    expect((await vault.call('GET', path, undefined, as(stranger))).status).toBe(404);
  });
});

describe('the gate: access, then caller IP, then token (findings 8, 9, 10)', () => {
  /** A profile that only 192.0.2.1 may use (the test vault's callers come from 127.0.0.1). */
  async function ipRestricted(owner?: Key) {
    const agent = await agentOf();
    const made = await profileOn(agent, owner);
    const patch = await vault.call('PATCH', `/v1/agents/${agent}/auth-profiles/p`, { allowed_source_ips: ['192.0.2.1'] }, as(owner));
    expect(patch.status, patch.text).toBe(200);
    return { agent, ...made };
  }

  it('answers a forged token for an invisible IP-restricted profile exactly like an unknown name (finding 9)', async () => {
    const member = await mint('member');
    const { agent } = await ipRestricted();
    // A token whose slot is that of profile "p" (computable from the tenant, agent and name), with a random secret.
    const forgedForP = formatToken(slotFor('acme', agent, 'p'), randomBytes(32));
    const seen = await vault.call('POST', '/v1/proxy', { agent_id: agent, auth_token: forgedForP, method: 'GET', url: `${upstream.url}/x` }, as(member));
    const unknown = await vault.call('POST', '/v1/proxy', { agent_id: agent, auth_token: formatToken(randomBytes(16), randomBytes(32)), method: 'GET', url: `${upstream.url}/x` }, as(member));
    expect(seen.status).toBe(404);
    expect({ status: seen.status, error: seen.json.error }).toEqual({ status: unknown.status, error: unknown.json.error });
  });

  it('checks the caller IP before it parses the token of a test call (finding 10)', async () => {
    const { agent } = await ipRestricted();
    const garbage = await vault.call('POST', `/v1/agents/${agent}/auth-profiles/p/test`, { auth_token: 'not-a-token', request: { method: 'GET', url: `${upstream.url}/x` } });
    expect(garbage.status, garbage.text).toBe(403);
    expect(garbage.json.error.code).toBe('source_ip_not_allowed');
  });

  it('records a valid token presented by a key without access (finding 8)', async () => {
    const member = await mint('member');
    const agent = await agentOf();
    const { token } = await profileOn(agent);
    const res = await vault.call('POST', '/v1/proxy', { agent_id: agent, auth_token: token, method: 'GET', url: `${upstream.url}/x` }, as(member));
    expect(res.status).toBe(404);
    const audit = await vault.call('GET', `/v1/audit?agent_id=${agent}&profile=p&action=proxy`);
    expect(audit.json.records[0]).toMatchObject({ key_id: member.key_id, status: 404, result: 'profile_not_found' });
  });

  it('records a run refused because the runner moved (finding 8)', async () => {
    const agent = await agentOf();
    const { token } = await profileOn(agent);
    const moved = await startTestRunner(() => ({ body: {} }));
    try {
      await vault.call('PUT', `/v1/agents/${agent}`, { ...putBody(agent), runner: { type: 'webhook', url: moved.url } });
      const run = await vault.call('POST', '/run_agent', { agent_id: agent, auth_token: token, run_async: false });
      expect(run.json.error.code).toBe('runner_changed');
      const audit = await vault.call('GET', `/v1/audit?agent_id=${agent}&profile=p&action=run`);
      expect(audit.json.records[0]).toMatchObject({ status: 409, result: 'runner_changed' });
      expect(moved.calls).toHaveLength(0);
    } finally {
      await moved.close();
    }
  });
});
