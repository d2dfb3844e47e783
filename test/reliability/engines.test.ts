/**
 * One behaviour suite, run against both DynamoDB-compatible engines the vault meets: dynalite
 * (embedded in local mode and the default test store) and Amazon's DynamoDB Local (the reference
 * emulator). A behaviour that passes on one and fails on the other points at an engine quirk the
 * repositories depend on.
 */
import { randomBytes } from 'node:crypto';
import { CreateTableCommand, DescribeTableCommand, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Db, createDb } from '#shared/clients';
import { slotFor } from '#shared/credentials/profile-keys';
import { formatToken } from '#shared/crypto/token';
import { ConflictError, NotFoundError, ProfileNotFoundError, ValidationError } from '#shared/errors';
import { loadProfileContext } from '#shared/repositories/profile-context';
import { ensureTable } from '#infra/local/table';

import { decryptAuthData, openProfile } from '#test/support/credentials';
import { testCaller } from '#test/support/credentials';
import { startRun } from '#shared/services/runs';
import { startEmbeddedDynamo } from '#infra/local/embedded-dynamo';
import { type TestDeps, makeTestDeps, signerOf } from '#test/support/dynamo';
import { dynamoDbLocalTable, dynamoDbLocalUnavailable, startDynamoDbLocal } from '#test/support/dynamodb-local';
import { startTestRunner } from '#test/support/runner';
import { scanAll } from './helpers.ts';
import {
  createAgent,
  createProfile,
  deleteAgent,
  getProfileMetadata,
  getRun,
  listProfiles,
  listTenantProfiles,
  patchProfile,
  upsertProfile,
} from '#test/support/services';
import { profileRef } from '#shared/store/profile-ref';

const TENANT = 'acme';

interface Engine {
  readonly name: string;
  /** Why this engine cannot run here, if it cannot. */
  readonly unavailable?: string;
  start(): Promise<{ db: Db; close(): Promise<void> }>;
}

const ddbLocalReason = dynamoDbLocalUnavailable();
if (ddbLocalReason) console.warn(`Skipping the DynamoDB Local variant of the engine suite: ${ddbLocalReason}`);

const engines: Engine[] = [
  {
    name: 'dynalite',
    async start() {
      const embedded = await startEmbeddedDynamo();
      const db = createDb({ dynamoEndpoint: embedded.endpoint, region: 'local', tableName: 'engine-suite' });
      await ensureTable(db.client, db.tableName);
      return {
        db,
        async close() {
          db.client.destroy();
          await embedded.close();
        },
      };
    },
  },
  {
    name: 'DynamoDB Local',
    unavailable: ddbLocalReason,
    async start() {
      const local = await startDynamoDbLocal();
      try {
        const db = await dynamoDbLocalTable(local.endpoint, 'engine-suite');
        return {
          db,
          async close() {
            db.client.destroy();
            await local.close();
          },
        };
      } catch (err) {
        await local.close();
        throw err;
      }
    },
  },
];

async function outcome<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

for (const engine of engines) {
  describe.skipIf(engine.unavailable !== undefined)(
    `repositories and services on ${engine.name}${engine.unavailable ? ` (skipped: ${engine.unavailable})` : ''}`,
    () => {
      let store: { db: Db; close(): Promise<void> };
      let deps: TestDeps;
      let runner: Awaited<ReturnType<typeof startTestRunner>>;
      const agentId = 'engine-agent';

      beforeAll(async () => {
        store = await engine.start();
        deps = await makeTestDeps(store.db);
        runner = await startTestRunner((call) => ({
          body: {
            output: { saw: Object.keys(call.body?.parameters ?? {}).sort() },
            session: { visits: ((call.body?.session as { visits?: number } | null)?.visits ?? 0) + 1 },
          },
        }));
        await createAgent(deps, TENANT, {
          agent_id: agentId,
          name: 'Engine agent',
          input_args: [
            { name: 'username', required: true, secret: false },
            { name: 'password', required: true, secret: true },
            { name: 'otp', required: false, secret: true },
          ],
          runner: { type: 'webhook', url: runner.url },
        });
      }, 90_000);

      afterAll(async () => {
        await runner?.close();
        await store?.close();
      });

      it('creates a profile and refuses a second create of the name with 409 profile_exists', async () => {
        const { auth_token } = await createProfile(deps, TENANT, {
          name: 'p-create',
          agent_id: agentId,
          auth_data: { username: 'u', password: 'p' },
        });
        const again = await outcome(
          createProfile(deps, TENANT, { name: 'p-create', agent_id: agentId, auth_data: { username: 'x', password: 'y' } }),
        );

        expect(decryptAuthData(await openProfile(deps, TENANT, agentId, auth_token))).toEqual({ username: 'u', password: 'p' });
        expect(again.ok).toBe(false);
        expect((again as { error: ConflictError }).error.code).toBe('profile_exists');
      });

      it('lists the tenant’s profiles in name order from the name index, and renames one keeping its token', async () => {
        const made = await createProfile(deps, TENANT, {
          name: 'p-index-b',
          agent_id: agentId,
          auth_data: { username: 'u', password: 'p' },
        });
        await createProfile(deps, TENANT, { name: 'p-index-a', agent_id: agentId, auth_data: { username: 'u', password: 'p' } });

        await patchProfile(deps, testCaller(TENANT), agentId, 'p-index-b', { name: 'p-index-c' });

        // The index is eventually consistent on DynamoDB: DynamoDB Local shows writes at once.
        const names = (await listTenantProfiles(deps, TENANT, 100, undefined, undefined, { q: 'p-index-' })).profiles.map((p) => p.name);
        expect(names).toEqual(['p-index-a', 'p-index-c']);
        expect((await openProfile(deps, TENANT, agentId, made.auth_token)).item.name).toBe('p-index-c');
        await expect(getProfileMetadata(deps, TENANT, agentId, 'p-index-b')).rejects.toMatchObject({ status: 404 });
      });

      it('gives a table from before the name index the index, keeping its items (online, or by a rebuild on dynalite)', async () => {
        const tableName = `old${randomBytes(4).toString('hex')}`;
        await store.db.client.send(
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
        await store.db.client.send(new PutItemCommand({ TableName: tableName, Item: { pk: { S: 'P#1' }, sk: { S: 'S' } } }));

        await ensureTable(store.db.client, tableName);

        const { Table } = await store.db.client.send(new DescribeTableCommand({ TableName: tableName }));
        expect(Table?.GlobalSecondaryIndexes?.map((i) => i.IndexName)).toEqual(['profiles-by-name']);
        expect((await store.db.client.send(new ScanCommand({ TableName: tableName }))).Count).toBe(1);
      }, 60_000);

      it('replaces a profile: a new token opens the new content and the old token is dead', async () => {
        const first = await upsertProfile(deps, TENANT, {
          agent_id: agentId,
          name: 'p-replace',
          auth_data: { username: 'u1', password: 'p1' },
        });
        const second = await upsertProfile(deps, TENANT, {
          agent_id: agentId,
          name: 'p-replace',
          auth_data: { username: 'u2', password: 'p2' },
        });

        expect([first.type, second.type]).toEqual(['create', 'replace']);
        expect(decryptAuthData(await openProfile(deps, TENANT, agentId, second.auth_token))).toEqual({ username: 'u2', password: 'p2' });
        await expect(openProfile(deps, TENANT, agentId, first.auth_token)).rejects.toBeInstanceOf(ProfileNotFoundError);
        expect((await getProfileMetadata(deps, TENANT, agentId, 'p-replace')).generation).toBe(2);
      });

      it('updates a profile in place: the token stays valid and the keys merge', async () => {
        const { auth_token } = await createProfile(deps, TENANT, {
          name: 'p-update',
          agent_id: agentId,
          auth_data: { username: 'u', password: 'p' },
        });

        const updated = await upsertProfile(deps, TENANT, { agent_id: agentId, auth_token, auth_data: { password: 'p2', otp: '123' } });

        expect(updated).toEqual({ auth_token, name: 'p-update', type: 'update' });
        expect(decryptAuthData(await openProfile(deps, TENANT, agentId, auth_token))).toEqual({
          username: 'u',
          password: 'p2',
          otp: '123',
        });
        expect((await getProfileMetadata(deps, TENANT, agentId, 'p-update')).record_version).toBe(2);
      });

      it('answers an unknown slot, a forged secret and another agent with the same 404', async () => {
        const { auth_token } = await createProfile(deps, TENANT, {
          name: 'p-404',
          agent_id: agentId,
          auth_data: { username: 'u', password: 'p' },
        });
        const forged = formatToken(slotFor(TENANT, agentId, 'p-404'), randomBytes(32));
        const unknown = formatToken(randomBytes(16), randomBytes(32));

        const errors = await Promise.all([
          outcome(openProfile(deps, TENANT, agentId, forged)),
          outcome(openProfile(deps, TENANT, agentId, unknown)),
          outcome(openProfile(deps, TENANT, 'other-agent', auth_token)),
        ]);

        for (const e of errors) {
          expect(e.ok).toBe(false);
          expect((e as { error: Error }).error).toBeInstanceOf(ProfileNotFoundError);
          expect((e as { error: Error }).error.message).toBe(new ProfileNotFoundError().message);
        }
        await expect(getProfileMetadata(deps, TENANT, agentId, 'no-such-profile')).rejects.toBeInstanceOf(NotFoundError);
        await expect(
          createProfile(deps, TENANT, { name: 'x', agent_id: 'no-such-agent', auth_data: { username: 'u' } }),
        ).rejects.toMatchObject({ code: 'agent_not_found' });
      });

      it('keeps every one of 10 parallel updates or answers it 409', async () => {
        const { auth_token } = await createProfile(deps, TENANT, {
          name: 'p-race',
          agent_id: agentId,
          auth_data: { username: 'u', password: 'p0' },
        });

        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            outcome(upsertProfile(deps, TENANT, { agent_id: agentId, auth_token, auth_data: { password: `p${i + 1}` } })),
          ),
        );

        const wins = results.filter((r) => r.ok).length;
        for (const r of results) if (!r.ok) expect(r.error).toBeInstanceOf(ConflictError);
        expect(wins).toBeGreaterThanOrEqual(1);
        expect((await getProfileMetadata(deps, TENANT, agentId, 'p-race')).record_version).toBe(1 + wins);
      });

      it('lists profiles page by page: every profile exactly once, and refuses a foreign cursor', async () => {
        const pagedAgent = 'paged-agent';
        await createAgent(deps, TENANT, {
          agent_id: pagedAgent,
          name: 'Paged',
          input_args: [{ name: 'password', required: true, secret: true }],
          runner: { type: 'webhook', url: runner.url },
        });
        const names = Array.from({ length: 7 }, (_, i) => `page-${i}`);
        for (const name of names) await createProfile(deps, TENANT, { name, agent_id: pagedAgent, auth_data: { password: name } });

        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await listProfiles(deps, TENANT, pagedAgent, 3, cursor);
          expect(page.profiles.length).toBeLessThanOrEqual(3);
          seen.push(...page.profiles.map((p) => p.name));
          cursor = page.next_cursor;
          pages++;
        } while (cursor && pages < 10);

        expect(seen.sort()).toEqual(names);
        expect(pages).toBeGreaterThanOrEqual(3);
        const foreign = Buffer.from(JSON.stringify({ pk: `TENANT#${TENANT}#AGENT#${agentId}`, sk: 'PROFILE#00' })).toString('base64url');
        await expect(listProfiles(deps, TENANT, pagedAgent, 3, foreign)).rejects.toBeInstanceOf(ValidationError);
      });

      it('reads agent, profile and saved session in one batch and hands the session to the next run', async () => {
        // Values that occur nowhere in the output: the leak guard redacts every occurrence of a credential.
        const created = await upsertProfile(deps, TENANT, {
          agent_id: agentId,
          name: 'p-run',
          should_save_session: true,
          auth_data: { username: 'user-7f3a', password: 'pw-9c2e' },
        });
        const slot = slotFor(TENANT, agentId, 'p-run').toString('hex');

        const first = await startRun(
          deps,
          testCaller(TENANT),
          { agent_id: agentId, auth_token: created.auth_token, parameters: {}, run_async: false },
          'http://vault.test',
        );
        const ctx = await loadProfileContext(store.db, signerOf(deps), profileRef(TENANT, agentId, slot), { withSession: true });
        const second = await startRun(
          deps,
          testCaller(TENANT),
          { agent_id: agentId, auth_token: created.auth_token, parameters: { otp: '4711' }, run_async: false },
          'http://vault.test',
        );

        expect(ctx.agent?.agent_id).toBe(agentId);
        expect(ctx.profile?.name).toBe('p-run');
        expect(ctx.session?.version).toBe(1);
        expect(first.agent_output).toEqual({ saw: ['password', 'username'] });
        expect(runner.calls.at(-1)?.body?.session).toEqual({ visits: 1 });
        expect(second.agent_output).toEqual({ saw: ['otp', 'password', 'username'] });
        expect((await getRun(deps, TENANT, second.session_id)).status).toBe('succeeded');
      });

      it('deletes an agent with force together with all its profiles and sessions', async () => {
        const doomed = 'doomed-agent';
        await createAgent(deps, TENANT, {
          agent_id: doomed,
          name: 'Doomed',
          input_args: [{ name: 'password', required: true, secret: true }],
          runner: { type: 'webhook', url: runner.url },
        });
        for (let i = 0; i < 30; i++) await createProfile(deps, TENANT, { name: `d-${i}`, agent_id: doomed, auth_data: { password: 'p' } });

        await expect(deleteAgent(deps, TENANT, doomed, false)).rejects.toMatchObject({ code: 'agent_has_profiles' });
        await deleteAgent(deps, TENANT, doomed, true);

        // The audit log keeps its records of the agent's profiles (they expire by retention, not with the agent).
        const left = (await scanAll(store.db)).filter(
          (i) => i.entity !== 'audit' && (String(i.pk).includes(`#AGENT#${doomed}`) || String(i.sk) === `AGENT#${doomed}`),
        );
        expect(left).toEqual([]);
      });
    },
  );
}
