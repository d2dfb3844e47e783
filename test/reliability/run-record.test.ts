import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConflictError } from '#shared/errors';
import { startRun } from '#shared/services/runs';
import { testCaller } from '#test/support/credentials';
import { AGENT_ID, dynamoErrors, type MockedVault, mockedVault, stageDefaults, TENANT, signer } from '../unit/handlers/mocked-deps.ts';

let v: MockedVault;

beforeAll(async () => {
  v = await mockedVault();
});
afterAll(() => v.ddb.restore());
beforeEach(() => stageDefaults(v.ddb, v.apiKey));

const body = (run_async: boolean) => ({ agent_id: AGENT_ID, parameters: {}, run_async });

describe('startRun and the conditional create of the run record', () => {
  it('refuses with 409 and dispatches nothing when the session id is already taken by another run', async () => {
    v.ddb.on(PutCommand, { Item: { entity: 'run' } }).rejects(dynamoErrors.conditionalCheckFailed());
    v.ddb.on(GetCommand, { Key: { sk: 'RUN' } }).callsFake(async (input: { Key: { pk: string } }) => ({
      Item: signer.seal('run', { pk: input.Key.pk, sk: 'RUN', entity: 'run', tenant: 'other-tenant', agent_id: 'x', session_id: input.Key.pk.slice(4), status: 'running', created_at: '2020-01-01T00:00:00.000Z', expires_at: 4_000_000_000 }),
    }));
    const dispatch = vi.spyOn(v.deps.dispatcher, 'dispatch');

    const err = await startRun(v.deps, testCaller(TENANT), body(true), 'http://vault').catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ConflictError);
    expect((err as ConflictError).code).toBe('run_conflict');
    expect(dispatch).not.toHaveBeenCalled();
    dispatch.mockRestore();
  });

  it('accepts a failed condition when the stored record is its own (an SDK retry after a lost answer)', async () => {
    const written: Record<string, unknown>[] = [];
    v.ddb.on(PutCommand, { Item: { entity: 'run' } }).callsFake(async (input: { Item: Record<string, unknown> }) => {
      written.push(input.Item);
      throw dynamoErrors.conditionalCheckFailed();
    });
    v.ddb.on(GetCommand, { Key: { sk: 'RUN' } }).callsFake(async () => ({ Item: written[0] }));
    const dispatch = vi.spyOn(v.deps.dispatcher, 'dispatch').mockResolvedValue(undefined);

    const started = await startRun(v.deps, testCaller(TENANT), body(true), 'http://vault');

    expect(started.session_id).toBe((written[0] as { session_id: string }).session_id);
    expect(dispatch).toHaveBeenCalledOnce();
    dispatch.mockRestore();
  });
});
