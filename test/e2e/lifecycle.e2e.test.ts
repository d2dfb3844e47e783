import { spawn } from 'node:child_process';
import { DeleteCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestVault, startTestVault } from '#test/support/vault';

/**
 * The lifecycle over HTTP against the local server: the caller-IP allow-list sees the socket
 * address (never X-Forwarded-For), an expired token answers 401, the audit log pages newest
 * first, and `npm run admin -- verify-audit` (a separate process) finds an edited record and a
 * deleted one.
 */
const TSX = 'node_modules/.bin/tsx';

function admin(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(TSX, ['infra/local/admin.ts', ...args], {
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

let vault: TestVault;
let token: string;

beforeAll(async () => {
  vault = await startTestVault();
  const agent = await vault.call('POST', '/v1/agents', {
    agent_id: 'life-bot',
    name: 'Lifecycle',
    input_args: [{ name: 'password', required: true }],
    runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
  });
  expect(agent.status, agent.text).toBe(201);
  const created = await vault.call('POST', '/api/create_agent_auth_profile', { agent_id: 'life-bot', name: 'main', auth_data: { password: 'pw' } });
  expect(created.status, created.text).toBe(200);
  token = created.json.auth_token;
});

afterAll(async () => {
  await vault?.close();
});

const run = (t: string, headers: Record<string, string> = {}) =>
  vault.call('POST', '/run_agent', { agent_id: 'life-bot', auth_token: t, run_async: false }, { headers });

describe('lifecycle over HTTP', () => {
  it('checks the allow-list against the socket address, not X-Forwarded-For', async () => {
    const patched = await vault.call('PATCH', '/v1/agents/life-bot/auth-profiles/main', { allowed_source_ips: ['10.0.0.0/8'] });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.json.allowed_source_ips).toEqual(['10.0.0.0/8']);

    const refused = await run(token, { 'x-forwarded-for': '10.1.2.3' });
    expect(refused.status).toBe(403);
    expect(refused.json.error.code).toBe('source_ip_not_allowed');

    await vault.call('PATCH', '/v1/agents/life-bot/auth-profiles/main', { allowed_source_ips: ['127.0.0.1', '::1'] });
    expect((await run(token)).status).toBe(200);
  });

  it('answers 400 for an invalid allow-list and 404 for an unknown profile', async () => {
    const bad = await vault.call('PATCH', '/v1/agents/life-bot/auth-profiles/main', { allowed_source_ips: ['10.0.0.0/33'] });
    expect([bad.status, bad.json.error.code]).toEqual([400, 'invalid_source_ips']);
    const empty = await vault.call('PATCH', '/v1/agents/life-bot/auth-profiles/main', {});
    expect(empty.status).toBe(400);
    expect((await vault.call('PATCH', '/v1/agents/life-bot/auth-profiles/nope', { active: false })).status).toBe(404);
  });

  it('rotates to a token that expires, then answers 401 token_expired once it has', async () => {
    const rotated = await vault.call('POST', '/v1/agents/life-bot/auth-profiles/main/rotate', { auth_token: token, expires_in_hours: 0.0003 });
    expect(rotated.status, rotated.text).toBe(200);
    expect((await run(token)).status).toBe(404); // the old token is dead at once
    const meta = await vault.call('GET', '/v1/agents/life-bot/auth-profiles/main');
    expect(meta.json).toMatchObject({ generation: 2, token_state: 'expiring_soon' });
    await new Promise((r) => setTimeout(r, 1_300));
    const expired = await run(rotated.json.auth_token);
    expect([expired.status, expired.json.error.code]).toEqual([401, 'token_expired']);
    token = rotated.json.auth_token;
  });

  it('pages the audit log newest first and refuses to delete a profile in use without force', async () => {
    const first = await vault.call('GET', '/v1/audit?agent_id=life-bot&limit=3');
    expect(first.status, first.text).toBe(200);
    // Newest first: the expired token's refusal, the old token's refusal (a guess at an existing profile), the rotation.
    expect(first.json.records.map((r: { action: string; result: string }) => `${r.action}:${r.result}`)).toEqual(['run:token_expired', 'run:profile_not_found', 'rotate:ok']);
    expect(first.json.records[0]).toMatchObject({ status: 401, source_ip: expect.stringMatching(/127\.0\.0\.1|::1/) });
    const second = await vault.call('GET', `/v1/audit?agent_id=life-bot&limit=50&cursor=${first.json.next_cursor}`);
    const all = [...first.json.records, ...second.json.records];
    expect(all.at(-1).action).toBe('agent_create');
    expect(all.at(-2).action).toBe('create');
    expect(all.map((r: { at: string }) => r.at)).toEqual([...all.map((r: { at: string }) => r.at)].sort().reverse());

    const inUse = await vault.call('DELETE', '/v1/agents/life-bot/auth-profiles/main');
    expect([inUse.status, inUse.json.error.code]).toEqual([409, 'profile_in_use']);
    expect(inUse.json.error.usage).toMatchObject({ use_count: 1, uses_last_7_days: { run: 1, proxy: 0, test: 0 } });
  });

  it('verify-audit passes an untouched log and reports an edited record (exit 1)', async () => {
    const env = { VAULT_DATA_DIR: vault.dataDir, VAULT_TABLE_NAME: vault.config.tableName };
    const clean = await admin(['verify-audit'], env);
    expect(clean.status, clean.stderr).toBe(0);
    expect(clean.stdout).toMatch(/\d+ audit item\(s\) checked, 0 problem\(s\)/);

    const db = vault.deps.db;
    const { Items = [] } = await db.doc.send(new ScanCommand({ TableName: db.tableName, FilterExpression: '#r = :r', ExpressionAttributeNames: { '#r': 'result' }, ExpressionAttributeValues: { ':r': 'source_ip_not_allowed' } }));
    const target = Items[0];
    expect(target).toBeDefined();
    await db.doc.send(
      new UpdateCommand({
        TableName: db.tableName,
        Key: { pk: target?.pk, sk: target?.sk },
        UpdateExpression: 'SET #r = :ok, #s = :s',
        ExpressionAttributeNames: { '#r': 'result', '#s': 'status' },
        ExpressionAttributeValues: { ':ok': 'ok', ':s': 200 },
      }),
    );
    const edited = await admin(['verify-audit'], env);
    expect(edited.status).toBe(1);
    expect(edited.stdout).toContain(`EDITED ${target?.pk} ${target?.sk}: its MAC does not match`);
    expect(edited.stdout).toMatch(/, 1 problem\(s\)/);
  });

  it('verify-audit reports a deleted record (exit 1)', async () => {
    const env = { VAULT_DATA_DIR: vault.dataDir, VAULT_TABLE_NAME: vault.config.tableName };
    const db = vault.deps.db;
    const { Items = [] } = await db.doc.send(
      new ScanCommand({ TableName: db.tableName, FilterExpression: '#a = :a AND #v = :v', ExpressionAttributeNames: { '#a': 'action', '#v': 'view' }, ExpressionAttributeValues: { ':a': 'rotate', ':v': 'profile' } }),
    );
    const target = Items[0];
    expect(target).toBeDefined();
    await db.doc.send(new DeleteCommand({ TableName: db.tableName, Key: { pk: target?.pk, sk: target?.sk } }));

    const deleted = await admin(['verify-audit'], env);

    expect(deleted.status).toBe(1);
    expect(deleted.stdout).toContain(`DELETED ${target?.pk} ${target?.sk}: its copy in the profile view is missing (deleted)`);
  });

  it('rotates keeping the expiry when expires_in_hours is absent and removing it with null', async () => {
    const created = await vault.call('PUT', '/v1/agents/life-bot/auth-profiles/expiring', { auth_data: { password: 'pw' }, expires_in_hours: 48 });
    expect(created.status, created.text).toBe(200);
    const expiry = created.json.profile.token_expires_at;
    expect(expiry).toBeDefined();
    const rotate = (body: Record<string, unknown>) => vault.call('POST', '/v1/agents/life-bot/auth-profiles/expiring/rotate', body);

    const kept = await rotate({ auth_token: created.json.auth_token });
    expect(kept.status, kept.text).toBe(200);
    expect(kept.json.token_expires_at).toBe(expiry);
    const removed = await rotate({ auth_token: kept.json.auth_token, expires_in_hours: null });
    expect(removed.status, removed.text).toBe(200);
    expect(removed.json.token_expires_at).toBeUndefined();
    const meta = await vault.call('GET', '/v1/agents/life-bot/auth-profiles/expiring');
    expect(meta.json).toMatchObject({ generation: 3, token_state: 'valid' });
    expect(meta.json.token_expires_at).toBeUndefined();
  });
});
