import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { AuditUnavailableError, queryAudit, verifyAuditLog } from '#shared/audit/log';
import { ForbiddenError, NotFoundError, UnauthorizedError } from '#shared/errors';
import { legacyApiKeyItem } from '#test/support/legacy-mac';
import { keys } from '#shared/keys';
import {
  AUTH_CACHE_TTL_MS,
  authenticatePrincipal,
  createApiKey,
  hashApiKey,
  listApiKeys,
  mintApiKey,
  revokeApiKey,
} from '#shared/services/api-keys';
import type { Caller } from '#shared/deps';
import { testCaller } from '#test/support/credentials';
import { useTestStore } from '#test/support/dynamo';
import { newApiKey } from '#test/support/vault';

const t = useTestStore();

let n = 0;
const freshTenant = () => `t${Date.now().toString(36)}${n++}`;

/** The caller a key is, as the http layer would build it. */
async function callerFor(apiKey: string): Promise<Caller> {
  const p = await authenticatePrincipal(t.deps, apiKey);
  return { tenant: p.tenant, apiKeyId: p.keyId, role: p.role };
}

describe('createApiKey', () => {
  it('mints a key of the chosen role that authenticates as that principal', async () => {
    const tenant = freshTenant();
    const admin = testCaller(tenant);

    const created = await createApiKey(t.deps, admin, { name: 'ci runner', role: 'member' });

    expect(created).toMatchObject({ name: 'ci runner', role: 'member', key_id: hashApiKey(created.api_key).slice(0, 16) });
    await expect(authenticatePrincipal(t.deps, created.api_key)).resolves.toEqual({ tenant, keyId: created.key_id, name: 'ci runner', role: 'member' });
  });

  it('refuses a member with 403 forbidden and writes nothing', async () => {
    const tenant = freshTenant();
    const err = await createApiKey(t.deps, testCaller(tenant, 'm', 'member'), { name: 'x', role: 'admin' }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ForbiddenError);
    expect((err as ForbiddenError).message).toMatch(/needs an admin API key/);
    expect((await listApiKeys(t.deps, testCaller(tenant), 10)).api_keys).toEqual([]);
  });
});

describe('listApiKeys', () => {
  it("lists the tenant's keys by key id, never a secret or hash, and no other tenant's", async () => {
    const tenant = freshTenant();
    const a = await createApiKey(t.deps, testCaller(tenant), { name: 'a', role: 'admin' });
    const b = await createApiKey(t.deps, testCaller(tenant), { name: 'b', role: 'member' });
    await createApiKey(t.deps, testCaller(freshTenant()), { name: 'other', role: 'admin' });

    const { api_keys } = await listApiKeys(t.deps, testCaller(tenant), 10);

    expect(api_keys.map((k) => k.key_id).sort()).toEqual([a.key_id, b.key_id].sort());
    const text = JSON.stringify(api_keys);
    for (const k of [a, b]) {
      expect(text).not.toContain(k.api_key);
      expect(text).not.toContain(hashApiKey(k.api_key));
    }
  });

  it('pages with a cursor', async () => {
    const tenant = freshTenant();
    for (const name of ['a', 'b', 'c']) await createApiKey(t.deps, testCaller(tenant), { name, role: 'member' });

    const first = await listApiKeys(t.deps, testCaller(tenant), 2);
    const second = await listApiKeys(t.deps, testCaller(tenant), 2, first.next_cursor);

    expect(first.api_keys).toHaveLength(2);
    expect(second.api_keys).toHaveLength(1);
    expect(new Set([...first.api_keys, ...second.api_keys].map((k) => k.name))).toEqual(new Set(['a', 'b', 'c']));
  });

  it('is refused to a member', async () => {
    await expect(listApiKeys(t.deps, testCaller(freshTenant(), 'm', 'member'), 10)).rejects.toBeInstanceOf(ForbiddenError);
  });
});

describe('revokeApiKey', () => {
  it('refuses the key at once in this process (cache dropped) and removes it from the listing', async () => {
    const tenant = freshTenant();
    const created = await createApiKey(t.deps, testCaller(tenant), { name: 'doomed', role: 'member' });
    await authenticatePrincipal(t.deps, created.api_key); // cached now

    await revokeApiKey(t.deps, testCaller(tenant), created.key_id);

    await expect(authenticatePrincipal(t.deps, created.api_key)).rejects.toBeInstanceOf(UnauthorizedError);
    expect((await listApiKeys(t.deps, testCaller(tenant), 10)).api_keys).toEqual([]);
  });

  it("answers 404 api_key_not_found for another tenant's key and leaves it working", async () => {
    const owner = freshTenant();
    const created = await createApiKey(t.deps, testCaller(owner), { name: 'theirs', role: 'admin' });

    const err = await revokeApiKey(t.deps, testCaller(freshTenant()), created.key_id).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as NotFoundError).code).toBe('api_key_not_found');
    await expect(authenticatePrincipal(t.deps, created.api_key)).resolves.toMatchObject({ tenant: owner });
  });

  it('is refused to a member, whose own key keeps working', async () => {
    const tenant = freshTenant();
    const member = await createApiKey(t.deps, testCaller(tenant), { name: 'm', role: 'member' });

    await expect(revokeApiKey(t.deps, await callerFor(member.api_key), member.key_id)).rejects.toBeInstanceOf(ForbiddenError);
    await expect(authenticatePrincipal(t.deps, member.api_key)).resolves.toMatchObject({ role: 'member' });
  });

  it('lets an admin revoke its own key', async () => {
    const tenant = freshTenant();
    const admin = await createApiKey(t.deps, testCaller(tenant), { name: 'me', role: 'admin' });

    await revokeApiKey(t.deps, await callerFor(admin.api_key), admin.key_id);

    await expect(authenticatePrincipal(t.deps, admin.api_key)).rejects.toBeInstanceOf(UnauthorizedError);
  });
});

describe('keys from before principals', () => {
  it('authenticate as admins and join the listing, so they can be revoked', async () => {
    const tenant = freshTenant();
    const apiKey = newApiKey();
    const hash = hashApiKey(apiKey);
    // The item as the vault wrote it before roles: tenant, label, created_at and its MAC only.
    const old = legacyApiKeyItem(t.deps.serverKeys, hash, { tenant, label: 'old', created_at: '2026-01-01T00:00:00.000Z' });
    await t.store.db.doc.send(new PutCommand({ TableName: t.store.db.tableName, Item: old }));

    const principal = await authenticatePrincipal(t.deps, apiKey);
    const { api_keys } = await listApiKeys(t.deps, testCaller(tenant), 10);

    expect(principal).toMatchObject({ tenant, role: 'admin', keyId: hash.slice(0, 16), name: 'old' });
    expect(api_keys).toEqual([{ key_id: hash.slice(0, 16), name: 'old', role: 'admin', created_at: '2026-01-01T00:00:00.000Z' }]);
    await revokeApiKey(t.deps, testCaller(tenant), hash.slice(0, 16));
    await expect(authenticatePrincipal(t.deps, apiKey)).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it('mintApiKey without a role (admin CLI, first start) makes an admin', async () => {
    const tenant = freshTenant();
    const key = await mintApiKey(t.deps, tenant, 'from the CLI');

    await expect(authenticatePrincipal(t.deps, key)).resolves.toMatchObject({ role: 'admin', name: 'from the CLI' });
  });
});

describe('revocation seen by another process', () => {
  it('is refused once the auth cache entry expires (AUTH_CACHE_TTL_MS), and not before', async () => {
    const tenant = freshTenant();
    let clock = Date.parse('2026-06-01T00:00:00Z');
    // Two "processes": the same module cache, but the revocation goes around it (a direct delete
    // of the item, as another Lambda instance's DELETE does from this one's point of view).
    const deps = { ...t.deps, now: () => new Date(clock) };
    const created = await createApiKey(deps, testCaller(tenant), { name: 'cached', role: 'member' });
    await authenticatePrincipal(deps, created.api_key);
    await t.store.db.doc.send(new DeleteCommand({ TableName: t.store.db.tableName, Key: keys.apiKey(hashApiKey(created.api_key)) }));

    clock += AUTH_CACHE_TTL_MS - 1;
    await expect(authenticatePrincipal(deps, created.api_key)).resolves.toMatchObject({ tenant });
    clock += 1;
    await expect(authenticatePrincipal(deps, created.api_key)).rejects.toBeInstanceOf(UnauthorizedError);
    expect(AUTH_CACHE_TTL_MS).toBeLessThanOrEqual(5_000);
  });
});

describe('audit records of API-key changes', () => {
  it('records a create and a revoke in the tenant view, by key id only, queryable by action, and verify-audit passes', async () => {
    const tenant = freshTenant();
    const admin = { ...testCaller(tenant), sourceIp: '198.51.100.7', requestId: 'req-1' };
    const created = await createApiKey(t.deps, admin, { name: 'ci', role: 'member' });
    await revokeApiKey(t.deps, admin, created.key_id);

    const page = await queryAudit(t.deps, { tenant, limit: 10 });
    const revokes = await queryAudit(t.deps, { tenant, actions: ['api_key_revoke'], limit: 10 });

    expect(page.records.map((r) => [r.action, r.principal, r.role, r.status, r.key_id, r.source_ip, r.request_id, r.agent_id])).toEqual([
      ['api_key_revoke', created.key_id, undefined, 204, admin.apiKeyId, '198.51.100.7', 'req-1', undefined],
      ['api_key_create', created.key_id, 'member', 201, admin.apiKeyId, '198.51.100.7', 'req-1', undefined],
    ]);
    expect(revokes.records).toHaveLength(1);
    const stored = JSON.stringify(page.records);
    expect(stored).not.toContain(created.api_key);
    expect(stored).not.toContain(hashApiKey(created.api_key));
    expect(await verifyAuditLog(t.deps, tenant)).toEqual({ checked: 2, problems: [] });
  });

  it('answers 503 and stores no key when the creation cannot be audited (write-ahead)', async () => {
    const tenant = freshTenant();
    const minted: string[] = [];
    const deps = {
      ...t.deps,
      store: {
        ...t.deps.store,
        apiKeys: { ...t.deps.store.apiKeys, put: (hash: string, r: Parameters<typeof t.deps.store.apiKeys.put>[1]) => {
            minted.push(hash);
            return t.deps.store.apiKeys.put(hash, r);
          },
        },
        audit: { ...t.deps.store.audit, write: () => Promise.reject(new Error('throttled')) },
      },
    };

    const err = await createApiKey(deps, testCaller(tenant), { name: 'ci', role: 'member' }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(AuditUnavailableError);
    expect(minted).toHaveLength(0);
    await expect(listApiKeys(t.deps, testCaller(tenant), 10)).resolves.toMatchObject({ api_keys: [] });
  });

  it('answers 503 when a revocation cannot be audited, and the key is not revoked (write-ahead)', async () => {
    const tenant = freshTenant();
    const created = await createApiKey(t.deps, testCaller(tenant), { name: 'ci', role: 'member' });
    const deps = { ...t.deps, store: { ...t.deps.store, audit: { ...t.deps.store.audit, write: () => Promise.reject(new Error('throttled')) } } };

    await expect(revokeApiKey(deps, testCaller(tenant), created.key_id)).rejects.toBeInstanceOf(AuditUnavailableError);

    await expect(authenticatePrincipal(t.deps, created.api_key)).resolves.toMatchObject({ keyId: created.key_id });
  });
});
