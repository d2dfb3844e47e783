import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '#shared/clients';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '#infra/local/embedded-dynamo';
import { newApiKey, startTestVault } from '#test/support/vault';

/** VAULT_DYNAMODB_ENDPOINT + VAULT_TABLE_NAME point the local server at any DynamoDB endpoint. */
let store: EmbeddedDynamo;

beforeAll(async () => {
  store = await startEmbeddedDynamo();
});

afterAll(async () => {
  await store?.close();
});

describe('the local server on an external DynamoDB endpoint', () => {
  it('creates the named table if missing, and a restarted server keeps every profile', async () => {
    const env = {
      VAULT_DYNAMODB_ENDPOINT: store.endpoint,
      VAULT_TABLE_NAME: 'vault-external',
      VAULT_DATA_DIR: mkdtempSync(join(tmpdir(), 'agent-vault-ext-')),
      VAULT_BOOTSTRAP_API_KEY: newApiKey(),
    };
    const first = await startTestVault(env);
    await first.call('POST', '/v1/agents', { agent_id: 'bot', name: 'Bot', input_args: [{ name: 'password' }], runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' } });
    const { json } = await first.call('POST', '/api/create_agent_auth_profile', { agent_id: 'bot', name: 'main', auth_data: { password: 'pw-ext' } });
    await first.close();

    const second = await startTestVault(env);
    const updated = await second.call('POST', '/api/upsert_agent_auth_profile', { agent_id: 'bot', auth_token: json.auth_token, auth_data: { password: 'pw-ext-2' } });
    await second.close();

    const db = createDb({ dynamoEndpoint: store.endpoint, region: 'local', tableName: 'vault-external' });
    const tables = await db.client.send(new ListTablesCommand({}));
    db.client.destroy();
    expect(tables.TableNames).toContain('vault-external');
    expect(updated.status, updated.text).toBe(200);
    expect(updated.json).toMatchObject({ type: 'update', auth_token: json.auth_token });
  });
});
