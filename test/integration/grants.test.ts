import { randomBytes } from 'node:crypto';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { openForUse } from '#shared/credentials/gate';
import { InvalidGrantError, issueGrant, resolveGrant, revokeGrant } from '#shared/credentials/grants';
import type { Caller, Deps } from '#shared/deps';
import { formatToken } from '#shared/crypto/token';
import { TooManyRequestsError } from '#shared/errors';
import { keys } from '#shared/keys';
import { grantRepository } from '#shared/repositories/grants';


import { testCaller } from '#test/support/credentials';
import { useTestStore, signerOf } from '#test/support/dynamo';
import { createAgent, createProfileRecord } from '#test/support/services';

const TENANT = 'acme';
const caller = testCaller(TENANT);
const anonymous: Caller = { tenant: '', apiKeyId: '', role: 'member', sourceIp: '127.0.0.1' };
const t = useTestStore();

async function grantFor(deadlineInMs = 60_000) {
  const agentId = `grant-${randomBytes(4).toString('hex')}`;
  await createAgent(t.deps, TENANT, { agent_id: agentId, name: 'g', input_args: [], runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' }, credential_delivery: 'proxy' });
  const secret = `canary-${randomBytes(8).toString('hex')}`;
  const { auth_token } = await createProfileRecord(t.deps, TENANT, { name: 'p', agent_id: agentId, auth_type: 'bearer', auth_data: { token: secret }, allowed_hosts: ['api.example.com'] });
  const use = await openForUse(t.deps, caller, { kind: 'token', agentId, token: auth_token }, 'run');
  const issued = await issueGrant(t.deps, use.profile, 'session-1', t.deps.now().getTime() + deadlineInMs);
  return { agentId, token: auth_token, secret, issued, tokenSecret: use.profile.secret };
}

const open = (deps: Deps, grant: string, who = anonymous) => openForUse(deps, who, { kind: 'grant', grant }, 'proxy');

describe('run grants', () => {
  it('open the profile through the gate as its tenant, for the proxy only', async () => {
    const { agentId, secret, issued } = await grantFor();

    const use = await open(t.deps, issued.grant);

    expect(use.secret.token).toBe(secret);
    expect(use.caller.tenant).toBe(TENANT);
    expect(use.agent.agent_id).toBe(agentId);
    await expect(openForUse(t.deps, anonymous, { kind: 'grant', grant: issued.grant }, 'run')).rejects.toBeInstanceOf(InvalidGrantError);
  });

  it('store neither the grant nor the profile token secret in clear; the item expires at the deadline', async () => {
    const { issued, tokenSecret } = await grantFor(30_000);
    const item = await grantRepository(t.store.db, signerOf(t.deps)).get(issued.idHex);

    const dump = Buffer.from(JSON.stringify(item));
    expect(dump.includes(issued.grant.slice(4, 30))).toBe(false);
    expect(Buffer.from(item?.sealed ?? []).includes(tokenSecret)).toBe(false);
    expect(item?.expires_at).toBe(Math.ceil((item?.deadline_ms ?? 0) / 1000));
  });

  it('are refused after their deadline, after revocation, and with a wrong secret, all alike', async () => {
    const { issued } = await grantFor(10_000);
    const later: Deps = { ...t.deps, now: () => new Date(Date.now() + 10_001) };
    await expect(open(later, issued.grant)).rejects.toBeInstanceOf(InvalidGrantError);

    // Same id, another secret (a forged grant for a real item).
    const forged = `avg_${formatToken(Buffer.from(issued.idHex, 'hex'), randomBytes(32)).slice(4)}`;
    await expect(open(t.deps, forged)).rejects.toBeInstanceOf(InvalidGrantError);

    await revokeGrant(t.deps, issued.idHex);
    await expect(resolveGrant(t.deps, issued.grant)).rejects.toBeInstanceOf(InvalidGrantError);
  });

  it('die with their profile: replaced or deleted', async () => {
    const replaced = await grantFor();
    const { upsertProfileRecord, deleteProfile } = await import('#test/support/services');
    await upsertProfileRecord(t.deps, TENANT, { name: 'p', agent_id: replaced.agentId, auth_type: 'bearer', auth_data: { token: 'new' }, allowed_hosts: ['api.example.com'] });
    await expect(open(t.deps, replaced.issued.grant)).rejects.toBeInstanceOf(InvalidGrantError);

    const deleted = await grantFor();
    await deleteProfile(t.deps, TENANT, deleted.agentId, 'p');
    await expect(open(t.deps, deleted.issued.grant)).rejects.toBeInstanceOf(InvalidGrantError);
  });

  it('refuse an API-key caller of another tenant as unknown', async () => {
    const { issued } = await grantFor();
    await expect(open(t.deps, issued.grant, testCaller('other'))).rejects.toBeInstanceOf(InvalidGrantError);
    expect((await open(t.deps, issued.grant, caller)).caller.tenant).toBe(TENANT);
  });

  it("count against their tenant's rate limit once unwrapped; forged grants count nothing and hear only invalid_grant", async () => {
    const { issued } = await grantFor();
    // A fixed clock mid-second, a few seconds ahead: one window, whatever the machine's load.
    const at = new Date((Math.floor(Date.now() / 1000) + 5) * 1000 + 100);
    const limited: Deps = { ...t.deps, config: { ...t.deps.config, tenantRateLimit: 2 }, now: () => at };
    const forged = `avg_${formatToken(Buffer.from(issued.idHex, 'hex'), randomBytes(32)).slice(4)}`;

    await open(limited, issued.grant);
    await expect(open(limited, forged)).rejects.toBeInstanceOf(InvalidGrantError);
    await open(limited, issued.grant);
    const refused = await open(limited, issued.grant).catch((e: unknown) => e);
    // Over the limit, a forged grant still hears what an unknown grant hears: no tenant oracle.
    await expect(open(limited, forged)).rejects.toBeInstanceOf(InvalidGrantError);
    // An API-key caller was counted by the middleware already: the gate does not count it twice.
    await expect(open(limited, issued.grant, caller)).resolves.toBeDefined();

    expect(refused).toBeInstanceOf(TooManyRequestsError);
    expect(refused).toMatchObject({ status: 429, headers: { 'retry-after': '1' } });
    const { Item } = await t.store.db.doc.send(new GetCommand({ TableName: t.store.db.tableName, Key: keys.tenantRate(TENANT, Math.floor(at.getTime() / 1000)) }));
    expect(Item?.count).toBe(2);
  });
});
