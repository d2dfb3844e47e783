import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { queryAudit, verifyAuditLog, writeAudit } from '#shared/audit/log';
import { type AuditEventInput, type AuditRecord, sealAuditRecord } from '#shared/audit/record';
import { keys } from '#shared/keys';
import { auditItems } from '#shared/store/items';
import { useTestStore } from '#test/support/dynamo';

const t = useTestStore();

let seq = 0;
/** A fresh tenant per test, so views never share records. */
const freshTenant = () => `tenant-${++seq}-${Date.now()}`;
const SLOT_A = 'aa'.repeat(16);
const SLOT_B = 'bb'.repeat(16);

/** Writes `n` records at one-second steps (clock driven by the test), returns them oldest first. */
async function writeMany(tenant: string, n: number, make: (i: number) => Partial<AuditEventInput> = () => ({})): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  const base = Date.parse('2026-12-01T00:00:00.000Z');
  for (let i = 0; i < n; i++) {
    const deps = { ...t.deps, now: () => new Date(base + i * 1000) };
    out.push(
      await writeAudit(deps, {
        tenant,
        key_id: 'k1',
        action: 'run',
        agent_id: 'bot',
        profile: 'a',
        slot: SLOT_A,
        status: 200,
        result: 'ok',
        ...make(i),
      }),
    );
  }
  return out;
}

const laterNow = { now: () => new Date('2026-12-02T00:00:00.000Z') };

describe('audit log views', () => {
  it('pages a tenant view newest first, with cursors, without repeats or gaps', async () => {
    const tenant = freshTenant();
    const written = await writeMany(tenant, 7);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await queryAudit({ store: t.deps.store, ...laterNow }, { tenant, limit: 3, cursor });
      seen.push(...page.records.map((r) => r.id));
      cursor = page.next;
      pages++;
    } while (cursor && pages < 10);
    expect(seen).toEqual(written.map((r) => r.id).reverse());
  });

  it('answers per agent and per profile from their own partitions', async () => {
    const tenant = freshTenant();
    await writeMany(tenant, 6, (i) => ({ agent_id: i % 2 ? 'bot' : 'other', slot: i < 3 ? SLOT_A : SLOT_B, profile: i < 3 ? 'a' : 'b' }));
    const byAgent = await queryAudit({ store: t.deps.store, ...laterNow }, { tenant, agentId: 'bot', limit: 50 });
    expect(byAgent.records.map((r) => r.agent_id)).toEqual(['bot', 'bot', 'bot']);
    const byProfile = await queryAudit({ store: t.deps.store, ...laterNow }, { tenant, agentId: 'bot', slot: SLOT_B, limit: 50 });
    expect(byProfile.records.map((r) => [r.agent_id, r.profile])).toEqual([
      ['bot', 'b'],
      ['bot', 'b'],
    ]);
  });

  it('filters by action and since, filling the page across filtered-out records', async () => {
    const tenant = freshTenant();
    const written = await writeMany(tenant, 12, (i) => ({ action: i % 4 === 0 ? 'rotate' : 'run' }));
    const rotations = await queryAudit({ store: t.deps.store, ...laterNow }, { tenant, actions: ['rotate'], limit: 2 });
    expect(rotations.records.map((r) => r.id)).toEqual([written[8]?.id, written[4]?.id]);
    const rest = await queryAudit({ store: t.deps.store, ...laterNow }, { tenant, actions: ['rotate'], limit: 2, cursor: rotations.next });
    expect(rest.records.map((r) => r.id)).toEqual([written[0]?.id]);
    const since = await queryAudit({ store: t.deps.store, ...laterNow }, { tenant, since: written[9]?.at, limit: 50 });
    expect(since.records.map((r) => r.id)).toEqual([written[11]?.id, written[10]?.id, written[9]?.id]);
  });

  it('treats records past their retention as gone', async () => {
    const tenant = freshTenant();
    await writeMany(tenant, 2);
    const farFuture = { now: () => new Date(Date.parse('2026-12-01T00:00:00Z') + (t.deps.config.auditRetentionSeconds + 10) * 1000) };
    expect((await queryAudit({ store: t.deps.store, ...farFuture }, { tenant, limit: 10 })).records).toEqual([]);
  });

  it('refuses a cursor from another view', async () => {
    const tenant = freshTenant();
    await writeMany(tenant, 3);
    const page = await queryAudit({ store: t.deps.store, ...laterNow }, { tenant, limit: 1 });
    await expect(queryAudit({ store: t.deps.store, ...laterNow }, { tenant: freshTenant(), limit: 1, cursor: page.next })).rejects.toThrow(/cursor/);
  });
});

describe('verifyAuditLog', () => {
  it('passes an untouched log and reports an edited, an extended and a moved record', async () => {
    const tenant = freshTenant();
    const [first, second, third] = await writeMany(tenant, 3);
    const db = t.store.db;
    expect(await verifyAuditLog(t.deps, tenant)).toEqual({ checked: 9, problems: [] });

    const sk = (r: AuditRecord | undefined) => keys.auditSort(r?.at as string, r?.id as string);
    // Edited: the result of a refusal rewritten to look like a success.
    await db.doc.send(
      new UpdateCommand({
        TableName: db.tableName,
        Key: { pk: keys.auditProfile(tenant, 'bot', SLOT_A), sk: sk(first) },
        UpdateExpression: 'SET #r = :r',
        ExpressionAttributeNames: { '#r': 'result' },
        ExpressionAttributeValues: { ':r': 'forged' },
      }),
    );
    // Extended: an attribute no record has.
    await db.doc.send(
      new UpdateCommand({
        TableName: db.tableName,
        Key: { pk: keys.auditTenant(tenant), sk: sk(second) },
        UpdateExpression: 'SET note = :n',
        ExpressionAttributeValues: { ':n': 'x' },
      }),
    );
    // Moved: the agent view's copy put under another agent's partition.
    await db.doc.send(new DeleteCommand({ TableName: db.tableName, Key: { pk: keys.auditAgent(tenant, 'bot'), sk: sk(third) } }));
    await db.doc.send(new PutCommand({ TableName: db.tableName, Item: { ...third, pk: keys.auditAgent(tenant, 'other'), sk: sk(third), entity: 'audit', view: 'agent' } }));

    const { checked, problems } = await verifyAuditLog(t.deps, tenant);
    expect(checked).toBe(9);
    expect(problems.map((p) => p.problem).sort()).toEqual([
      'it has attributes no audit record has: note',
      'its MAC does not match (the record was edited)',
      'its key does not match its tenant, agent, profile, time and id (the record was moved)',
    ]);
  });
});

describe('verifyAuditLog: deleted records (per-writer chains)', () => {
  const db = () => t.store.db;
  /** Deletes stored items by key, as someone with write access to the table could. */
  const remove = (...items: { pk: unknown; sk: unknown }[]) =>
    Promise.all(items.map((i) => db().doc.send(new DeleteCommand({ TableName: db().tableName, Key: { pk: i.pk, sk: i.sk } }))));
  /** Every stored copy of a record (its views). */
  const copiesOf = (r: AuditRecord | undefined) => auditItems(r as AuditRecord) as { pk: string; sk: string }[];
  const deletions = async (tenant: string, now = laterNow.now) =>
    (await verifyAuditLog({ ...t.deps, now }, tenant)).problems.map((p) => [p.kind, p.problem]);

  it('chains the records of one writer: seq 1, 2, 3, each linked to the MAC before it', async () => {
    const [a, b, c] = await writeMany(freshTenant(), 3);
    expect([a?.seq, b?.seq, c?.seq]).toEqual([1, 2, 3]);
    expect(new Set([a?.writer, b?.writer, c?.writer]).size).toBe(1);
    expect([b?.prev_mac, c?.prev_mac]).toEqual([a?.mac, b?.mac]);
  });

  it('gives writes in flight together writers of their own, and their chains verify', async () => {
    const tenant = freshTenant();
    const event = { tenant, key_id: 'k1', action: 'run', agent_id: 'bot', profile: 'a', slot: SLOT_A, status: 200, result: 'ok' } as const;
    const together = await Promise.all(Array.from({ length: 4 }, () => writeAudit(t.deps, event)));
    const next = await writeAudit(t.deps, event);
    expect(new Set(together.map((r) => r.writer)).size).toBe(4);
    expect(next.seq).toBe(2);
    expect(await deletions(tenant)).toEqual([]);
  });

  it('reports a middle record deleted from every view', async () => {
    const tenant = freshTenant();
    const [, second] = await writeMany(tenant, 3);
    await remove(...copiesOf(second));
    expect(await deletions(tenant)).toEqual([['deleted', `record 2 of writer ${second?.writer}, before this one, is missing (deleted)`]]);
  });

  it('reports the newest record deleted from every view', async () => {
    const tenant = freshTenant();
    const [, , third] = await writeMany(tenant, 3);
    await remove(...copiesOf(third));
    expect(await deletions(tenant)).toEqual([['deleted', `the newest record 3 of writer ${third?.writer} (up to ${third?.id}) is missing (deleted)`]]);
  });

  it('reports one view copy deleted', async () => {
    const tenant = freshTenant();
    const [, second] = await writeMany(tenant, 3);
    await remove({ pk: keys.auditAgent(tenant, 'bot'), sk: keys.auditSort(second?.at as string, second?.id as string) });
    expect(await deletions(tenant)).toEqual([['deleted', 'its copy in the agent view is missing (deleted)']]);
  });

  it('reports the head deleted', async () => {
    const tenant = freshTenant();
    const [first] = await writeMany(tenant, 2);
    await remove(keys.auditHead(tenant, first?.writer as string));
    expect(await deletions(tenant)).toEqual([['deleted', `the head of writer ${first?.writer} is missing (deleted): its newest records could go unnoticed`]]);
  });

  it('reports an edited head', async () => {
    const tenant = freshTenant();
    const [first] = await writeMany(tenant, 3);
    await db().doc.send(new UpdateCommand({ TableName: db().tableName, Key: keys.auditHead(tenant, first?.writer as string), UpdateExpression: 'SET seq = :s', ExpressionAttributeValues: { ':s': 2 } }));
    expect(await deletions(tenant)).toEqual([['edited', 'its MAC does not match (the head was edited)']]);
  });

  it('cannot see the newest record deleted with an older copy of its head put back (a limit: no anchor outside the table)', async () => {
    const tenant = freshTenant();
    const [first] = await writeMany(tenant, 2);
    const headKey = keys.auditHead(tenant, first?.writer as string);
    const { Item: saved } = await db().doc.send(new GetCommand({ TableName: db().tableName, Key: headKey }));
    const [third] = await writeMany(tenant, 1);
    await remove(...copiesOf(third));
    await db().doc.send(new PutCommand({ TableName: db().tableName, Item: saved }));
    expect(await deletions(tenant)).toEqual([]);
  });

  it('does not report records gone past their retention (TTL) as deleted', async () => {
    const tenant = freshTenant();
    const retention = t.deps.config.auditRetentionSeconds;
    const base = Date.parse('2026-12-01T00:00:00.000Z');
    const at = (s: number) => ({ ...t.deps, now: () => new Date(base + s * 1000) });
    const event = { tenant, key_id: 'k1', action: 'run', agent_id: 'bot', profile: 'a', slot: SLOT_A, status: 200, result: 'ok' } as const;
    const first = await writeAudit(at(0), event);
    const second = await writeAudit(at(1), event);
    await writeAudit(at(retention / 2), event);
    // Past the first two records' retention, not the third's: DynamoDB's TTL has removed them.
    await remove(...copiesOf(first), ...copiesOf(second));
    expect(await deletions(tenant, () => new Date(base + (retention + 10) * 1000))).toEqual([]);
  });

  it('checks records written before chains (no writer) for edits only, as before', async () => {
    const tenant = freshTenant();
    const legacy = sealAuditRecord(t.deps.serverKeys, { tenant, key_id: 'k1', action: 'run', agent_id: 'bot', profile: 'a', slot: SLOT_A, status: 200, result: 'ok' }, new Date('2026-12-01T00:00:00.000Z'), t.deps.config.auditRetentionSeconds);
    await t.deps.store.audit.write(legacy); // as written before chains: no link, no head
    expect(legacy.writer).toBeUndefined();
    expect(await verifyAuditLog({ ...t.deps, ...laterNow }, tenant)).toEqual({ checked: 3, problems: [] });
    // No chain to check it against: a deleted view copy of such a record goes unseen, as before.
    await remove({ pk: keys.auditAgent(tenant, 'bot'), sk: keys.auditSort(legacy.at, legacy.id) });
    expect(await deletions(tenant)).toEqual([]);
  });
});

describe('audit records of principals and sharing', () => {
  it('keeps the v1 MAC for records without the new fields, and detects a grantee or permission edited or stripped from a v2 record', async () => {
    const tenant = freshTenant();
    const [plain] = await writeMany(tenant, 1);
    const [share] = await writeMany(tenant, 1, () => ({ action: 'share', principal: 'role:member', permission: 'read' }));
    const [key] = await writeMany(tenant, 1, () => ({ action: 'api_key_create', agent_id: undefined, profile: undefined, slot: undefined, principal: 'ab'.repeat(8), role: 'member' }));
    expect(plain?.principal).toBeUndefined();
    // The key event lives in the tenant view only: 3 + 3 + 1 items.
    expect(await verifyAuditLog(t.deps, tenant)).toEqual({ checked: 7, problems: [] });
    const db = t.store.db;
    const sk = (r: AuditRecord | undefined) => keys.auditSort(r?.at as string, r?.id as string);

    await db.doc.send(
      new UpdateCommand({
        TableName: db.tableName,
        Key: { pk: keys.auditTenant(tenant), sk: sk(share) },
        UpdateExpression: 'SET #p = :p',
        ExpressionAttributeNames: { '#p': 'permission' },
        ExpressionAttributeValues: { ':p': 'read_write' },
      }),
    );
    await db.doc.send(
      new UpdateCommand({ TableName: db.tableName, Key: { pk: keys.auditAgent(tenant, 'bot'), sk: sk(share) }, UpdateExpression: 'REMOVE principal, #p', ExpressionAttributeNames: { '#p': 'permission' } }),
    );
    await db.doc.send(
      new UpdateCommand({ TableName: db.tableName, Key: { pk: keys.auditTenant(tenant), sk: sk(key) }, UpdateExpression: 'SET #r = :r', ExpressionAttributeNames: { '#r': 'role' }, ExpressionAttributeValues: { ':r': 'admin' } }),
    );

    const { problems } = await verifyAuditLog(t.deps, tenant);
    expect(problems.map((p) => [p.pk, p.problem])).toEqual(
      expect.arrayContaining([
        [keys.auditTenant(tenant), 'its MAC does not match (the record was edited)'],
        [keys.auditAgent(tenant, 'bot'), 'its MAC does not match (the record was edited)'],
      ]),
    );
    expect(problems).toHaveLength(3);
  });
});
