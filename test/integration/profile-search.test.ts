import { randomBytes } from 'node:crypto';
import { CreateTableCommand, DescribeTableCommand, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ensureTable } from '#infra/local/table';
import { indexUnindexedProfiles } from '#shared/store/dynamodb';
import { describe, expect, it } from 'vitest';
import { namedProfileRef } from '#shared/credentials/profile-keys';
import { PROFILE_NAME_INDEX, PROFILE_NAME_INDEX_PK, keys } from '#shared/keys';
import type { ProfileItem } from '#shared/schemas/items';
import type { ProfileFilter } from '#shared/schemas/profiles';
import { createApiKey } from '#shared/services/api-keys';
import type { ProfileRecord } from '#shared/store/types';
import { testCaller } from '#test/support/credentials';
import { useTestStore } from '#test/support/dynamo';
import { createAgent, createProfile, listProfiles, listTenantProfiles, patchProfile, shareProfile } from '#test/support/services';

const t = useTestStore();

/** A fresh tenant per test, so the tenant-wide listing sees only what the test made. */
function tenant() {
  const id = `t${randomBytes(4).toString('hex')}`;
  return { id, admin: testCaller(id, 'aaaaaaaaaaaaaaaa', 'admin') };
}

async function agent(tenantId: string, agentId: string) {
  await createAgent(t.deps, tenantId, {
    agent_id: agentId,
    name: agentId,
    input_args: [{ name: 'password', required: false, secret: true }],
    runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
  });
  return agentId;
}

const names = (page: { profiles: { name: string; agent_id: string }[] }) => page.profiles.map((p) => `${p.agent_id}/${p.name}`);

/** Every page of a listing, following next_cursor to the end. */
async function allPages(list: (cursor?: string) => Promise<{ profiles: { name: string; agent_id: string }[]; next_cursor?: string }>) {
  const pages: string[][] = [];
  let cursor: string | undefined;
  do {
    const page = await list(cursor);
    pages.push(names(page));
    cursor = page.next_cursor;
  } while (cursor !== undefined && pages.length < 50);
  return pages;
}

/** Stores the OAuth 2.0 authorization-code attributes another write path sets, through the store. */
async function withConnection(tenantId: string, agentId: string, name: string, connection_state: NonNullable<ProfileItem['connection_state']>, end_user_id: string) {
  const item = (await t.deps.store.profiles.get(namedProfileRef(tenantId, agentId, name))) as ProfileItem;
  const { pk: _pk, sk: _sk, entity: _e, ...record } = item;
  expect(await t.deps.store.profiles.replace({ ...(record as ProfileRecord), connection_state, end_user_id }, item)).toBe(true);
}

describe('GET /v1/auth-profiles (listTenantProfiles)', () => {
  it('lists every agent’s profiles in name order, then agent id, each with its agent_id', async () => {
    const { id } = tenant();
    await agent(id, 'zeta');
    await agent(id, 'alpha');
    for (const [a, n] of [
      ['zeta', 'github'],
      ['alpha', 'slack'],
      ['alpha', 'github'],
      ['zeta', 'aws'],
      ['zeta', 'Zoom'],
    ] as const) {
      await createProfile(t.deps, id, { name: n, agent_id: a, auth_data: { password: 'pw' } });
    }

    const page = await listTenantProfiles(t.deps, id, 50);

    // Byte order: upper case before lower case; the same name orders by agent id.
    expect(names(page)).toEqual(['zeta/Zoom', 'zeta/aws', 'alpha/github', 'zeta/github', 'alpha/slack']);
    expect(page.next_cursor).toBeUndefined();
  });

  it('reads the name index with a Query (never a Scan): the profile item carries the index keys', async () => {
    const { id } = tenant();
    await agent(id, 'bot');
    await createProfile(t.deps, id, { name: 'main', agent_id: 'bot', auth_data: { password: 'pw' } });

    const out = await t.store.db.doc.send(
      new QueryCommand({
        TableName: t.store.db.tableName,
        IndexName: PROFILE_NAME_INDEX,
        KeyConditionExpression: '#k = :k',
        ExpressionAttributeNames: { '#k': PROFILE_NAME_INDEX_PK },
        ExpressionAttributeValues: { ':k': keys.profileNameIndexPk(id) },
      }),
    );

    expect(out.Items?.map((i) => i.name)).toEqual(['main']);
  });

  it('pages in name order with a short page size, never skipping or repeating a profile', async () => {
    const { id } = tenant();
    await agent(id, 'a1');
    await agent(id, 'a2');
    const made: string[] = [];
    for (let i = 0; i < 7; i++) {
      const a = i % 2 ? 'a1' : 'a2';
      await createProfile(t.deps, id, { name: `p${i}`, agent_id: a, auth_data: { password: 'pw' } });
      made.push(`${a}/p${i}`);
    }

    const pages = await allPages((cursor) => listTenantProfiles(t.deps, id, 3, cursor));

    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    expect(pages.flat()).toEqual(made);
  });

  it('narrows to one agent with agent_id', async () => {
    const { id } = tenant();
    await agent(id, 'a1');
    await agent(id, 'a2');
    await createProfile(t.deps, id, { name: 'x', agent_id: 'a1', auth_data: { password: 'pw' } });
    await createProfile(t.deps, id, { name: 'y', agent_id: 'a2', auth_data: { password: 'pw' } });

    expect(names(await listTenantProfiles(t.deps, id, 50, undefined, undefined, { agent_id: 'a2' }))).toEqual(['a2/y']);
  });

  it('never shows another tenant’s profiles, and refuses a cursor of another tenant', async () => {
    const a = tenant();
    const b = tenant();
    await agent(a.id, 'bot');
    await agent(b.id, 'bot');
    await createProfile(t.deps, a.id, { name: 'p1', agent_id: 'bot', auth_data: { password: 'pw' } });
    await createProfile(t.deps, a.id, { name: 'p2', agent_id: 'bot', auth_data: { password: 'pw' } });
    await createProfile(t.deps, b.id, { name: 'theirs', agent_id: 'bot', auth_data: { password: 'pw' } });

    const first = await listTenantProfiles(t.deps, a.id, 1);
    expect(names(first)).toEqual(['bot/p1']);
    expect(names(await listTenantProfiles(t.deps, b.id, 50))).toEqual(['bot/theirs']);
    await expect(listTenantProfiles(t.deps, b.id, 1, first.next_cursor)).rejects.toThrow(/cursor is not valid/);
  });

  it('shows a member only the profiles it may read, even across pages', async () => {
    const { id, admin } = tenant();
    await agent(id, 'bot');
    const created = await createApiKey(t.deps, admin, { name: 'm', role: 'member' });
    const member = testCaller(id, created.key_id, 'member');
    for (const n of ['a', 'b', 'c', 'd', 'e']) await createProfile(t.deps, id, { name: n, agent_id: 'bot', auth_data: { password: 'pw' } });
    await createProfile(t.deps, id, { name: 'mine', agent_id: 'bot', auth_data: { password: 'pw' } }, member);
    await shareProfile(t.deps, admin, 'bot', 'd', { principal: created.key_id, permission: 'read' });

    const pages = await allPages((cursor) => listTenantProfiles(t.deps, id, 1, cursor, member));

    expect(pages.flat()).toEqual(['bot/d', 'bot/mine']);
  });
});

describe('profile filters (both listings)', () => {
  async function world() {
    const { id, admin } = tenant();
    await agent(id, 'bot');
    await createProfile(t.deps, id, { name: 'GitHub-Main', agent_id: 'bot', auth_data: { token: 'x' }, auth_type: 'bearer' });
    await createProfile(t.deps, id, { name: 'github-backup', agent_id: 'bot', auth_data: { password: 'pw' }, expires_in_hours: 1 });
    await createProfile(t.deps, id, { name: 'slack', agent_id: 'bot', auth_data: { password: 'pw' } });
    await createProfile(t.deps, id, { name: 'calendar', agent_id: 'bot', auth_data: { password: 'pw' } });
    await patchProfile(t.deps, admin, 'bot', 'slack', { active: false });
    await shareProfile(t.deps, admin, 'bot', 'calendar', { principal: 'role:member', permission: 'read' });
    await withConnection(id, 'bot', 'calendar', 'needs_reauth', 'user-42');
    await withConnection(id, 'bot', 'slack', 'connected', 'user-7');
    return id;
  }

  const cases: [string, ProfileFilter, string[]][] = [
    ['q: name contains, case-insensitive', { q: 'GITHUB' }, ['GitHub-Main', 'github-backup']],
    ['auth_type', { auth_type: 'bearer' }, ['GitHub-Main']],
    ['visibility', { visibility: 'shared' }, ['calendar']],
    ['token_state', { token_state: 'expiring_soon' }, ['github-backup']],
    ['active', { active: false }, ['slack']],
    ['connection_state', { connection_state: 'needs_reauth' }, ['calendar']],
    ['end_user_id', { end_user_id: 'user-7' }, ['slack']],
    ['several at once (all must match)', { q: 'git', auth_type: 'custom' }, ['github-backup']],
  ];

  for (const [what, filter, expected] of cases) {
    it(`filters by ${what}`, async () => {
      const id = await world();

      const perAgent = await listProfiles(t.deps, id, 'bot', 50, undefined, undefined, filter);
      const tenantWide = await listTenantProfiles(t.deps, id, 50, undefined, undefined, filter);

      expect(perAgent.profiles.map((p) => p.name).sort()).toEqual([...expected].sort());
      expect(tenantWide.profiles.map((p) => p.name)).toEqual(expected);
    });
  }

  it('keeps paging correct under a filter: short pages, next_cursor goes on, every match once', async () => {
    const { id } = tenant();
    await agent(id, 'bot');
    const matching: string[] = [];
    for (let i = 0; i < 12; i++) {
      const name = i % 3 === 0 ? `keep-${String(i).padStart(2, '0')}` : `drop-${String(i).padStart(2, '0')}`;
      await createProfile(t.deps, id, { name, agent_id: 'bot', auth_data: { password: 'pw' } });
      if (name.startsWith('keep')) matching.push(`bot/${name}`);
    }

    const tenantPages = await allPages((cursor) => listTenantProfiles(t.deps, id, 3, cursor, undefined, { q: 'keep' }));
    const agentPages = await allPages((cursor) => listProfiles(t.deps, id, 'bot', 1, cursor, undefined, { q: 'keep' }));

    expect(tenantPages.flat()).toEqual(matching);
    expect(agentPages.flat().sort()).toEqual(matching);
  });
});

describe('upgrading a table from before the name index', () => {
  it('ensureTable adds the index to an existing table that lacks it', async () => {
    const tableName = `old${randomBytes(4).toString('hex')}`;
    await t.store.db.client.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );

    const items = Array.from({ length: 30 }, (_, i) => ({ pk: { S: `P#${i}` }, sk: { S: 'S' }, v: { N: String(i) } }));
    for (const Item of items) await t.store.db.client.send(new PutItemCommand({ TableName: tableName, Item }));

    expect(await ensureTable(t.store.db.client, tableName)).toBe('exists');

    const { Table } = await t.store.db.client.send(new DescribeTableCommand({ TableName: tableName }));
    expect(Table?.GlobalSecondaryIndexes?.map((i) => [i.IndexName, i.IndexStatus])).toEqual([[PROFILE_NAME_INDEX, 'ACTIVE']]);
    // Every item is still there, and the copy the rebuild went through is gone.
    expect((await t.store.db.client.send(new ScanCommand({ TableName: tableName }))).Count).toBe(30);
    await expect(t.store.db.client.send(new DescribeTableCommand({ TableName: `${tableName}-with-name-index` }))).rejects.toThrow();
  });

  it('finishes a rebuild that stopped after the table was deleted, losing nothing', async () => {
    const tableName = `old${randomBytes(4).toString('hex')}`;
    // The state a crash leaves between "delete the table" and "create it again": only the copy holds the items.
    await ensureTable(t.store.db.client, `${tableName}-with-name-index`);
    await t.store.db.client.send(
      new PutItemCommand({ TableName: `${tableName}-with-name-index`, Item: { pk: { S: 'P#1' }, sk: { S: 'S' } } }),
    );

    await ensureTable(t.store.db.client, tableName);

    expect((await t.store.db.client.send(new ScanCommand({ TableName: tableName }))).Items).toEqual([{ pk: { S: 'P#1' }, sk: { S: 'S' } }]);
    await expect(t.store.db.client.send(new DescribeTableCommand({ TableName: `${tableName}-with-name-index` }))).rejects.toThrow();
  });

  it('index-profiles gives a profile written without index keys its keys, and the listing then shows it', async () => {
    const { id } = tenant();
    await agent(id, 'bot');
    await createProfile(t.deps, id, { name: 'legacy', agent_id: 'bot', auth_data: { password: 'pw' } });
    await createProfile(t.deps, id, { name: 'new', agent_id: 'bot', auth_data: { password: 'pw' } });
    await t.store.db.doc.send(
      new UpdateCommand({
        TableName: t.store.db.tableName,
        Key: keys.profile(namedProfileRef(id, 'bot', 'legacy')),
        UpdateExpression: 'REMOVE name_pk, name_sk',
      }),
    );
    expect(names(await listTenantProfiles(t.deps, id, 50))).toEqual(['bot/new']);

    const outcome = await indexUnindexedProfiles(t.store.db);

    expect(outcome.indexed).toBeGreaterThanOrEqual(1);
    expect(names(await listTenantProfiles(t.deps, id, 50))).toEqual(['bot/legacy', 'bot/new']);
    // The index keys are outside the MAC: the item still verifies.
    expect((await t.deps.store.profiles.get(namedProfileRef(id, 'bot', 'legacy')))?.name).toBe('legacy');
    expect((await indexUnindexedProfiles(t.store.db)).indexed).toBe(0);
  });
});
