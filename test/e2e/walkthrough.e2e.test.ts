import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '#test/support/net';
import { type TestVault, startTestVault } from '#test/support/vault';

/**
 * The walk-through (README.md, and docs/walkthrough.md in full), as a newcomer runs it: the admin CLI and the sample runner as
 * separate processes (npm scripts `admin` and `sample-runner`), the vault over HTTP.
 */
const TSX = 'node_modules/.bin/tsx';


/** Runs the admin CLI as a child process (asynchronously: the store it talks to lives in this process). */
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
let runner: ReturnType<typeof spawn> | undefined;

beforeAll(async () => {
  vault = await startTestVault();
});

afterAll(async () => {
  runner?.kill('SIGTERM');
  await vault?.close();
});

describe('admin CLI', () => {
  it('prints a well-formed API key with new-api-key, different each time', async () => {
    const a = await admin(['new-api-key'], {});
    const b = await admin(['new-api-key'], {});

    expect(a.status, a.stderr).toBe(0);
    expect(a.stdout.trim()).toMatch(/^avk_[A-Za-z0-9_-]{43}$/);
    expect(b.stdout.trim()).not.toBe(a.stdout.trim());
  });

  it('mints a key with create-api-key while the server runs, that the running vault accepts, for the named tenant', async () => {
    // The same data folder the running server holds: the CLI goes through the store's socket.
    const out = await admin(['create-api-key', '--tenant', 'globex'], { VAULT_DATA_DIR: vault.dataDir, VAULT_TABLE_NAME: vault.config.tableName });
    const key = out.stdout.trim();

    expect(out.status, out.stderr).toBe(0);
    expect(key).toMatch(/^avk_[A-Za-z0-9_-]{43}$/);
    const own = await vault.call('POST', '/v1/agents', { agent_id: 'globex-bot', name: 'G', input_args: [], runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' } }, { apiKey: key });
    expect(own.status, own.text).toBe(201);
    // Another tenant's key does not see it.
    expect((await vault.call('GET', '/v1/agents/globex-bot')).status).toBe(404);
  });

  it('refuses create-api-key without --tenant, with a message that says what to add', async () => {
    const out = await admin(['create-api-key'], { VAULT_DATA_DIR: vault.dataDir, VAULT_TABLE_NAME: vault.config.tableName });

    expect(out.status).toBe(1);
    expect(out.stderr).toMatch(/--tenant/);
  });
});

describe('the walk-through (README.md, docs/walkthrough.md) with the sample runner', () => {
  it('creates, updates, runs (sync and async, with a session), replaces and lists', async () => {
    const agent = await vault.call('POST', '/v1/agents', {
      agent_id: 'crm-bot',
      name: 'CRM bot',
      input_args: [{ name: 'username', required: true }, { name: 'password', required: true }, { name: 'query' }],
      runner: { type: 'webhook', url: 'http://127.0.0.1:1/placeholder' },
    });
    expect(agent.status, agent.text).toBe(201);
    const port = await freePort();
    runner = spawn(TSX, ['infra/local/sample-runner.ts'], {
      env: { ...process.env, RUNNER_SIGNING_SECRET: agent.json.runner_signing_secret, RUNNER_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let runnerLog = '';
    runner.stdout?.on('data', (d: Buffer) => {
      runnerLog += d.toString();
    });
    for (let i = 0; i < 100 && !runnerLog.includes('listening'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(runnerLog).toContain('listening');
    const put = await vault.call('PUT', '/v1/agents/crm-bot', {
      name: 'CRM bot',
      input_args: [{ name: 'username', required: true }, { name: 'password', required: true }, { name: 'query' }],
      runner: { type: 'webhook', url: `http://127.0.0.1:${port}/run` },
    });
    expect(put.status, put.text).toBe(200);

    const created = await vault.call('POST', '/api/create_agent_auth_profile', {
      api_key: vault.apiKey,
      agent_id: 'crm-bot',
      name: 'alice',
      auth_data: { username: 'alice', password: 's3cret' },
    }, { apiKey: null });
    const token = created.json.auth_token as string;
    const updated = await vault.call('POST', '/api/upsert_agent_auth_profile', {
      agent_id: 'crm-bot',
      auth_token: token,
      auth_data: { password: 'n3w-s3cret' },
      should_save_session: true,
    });
    const sync = await vault.call('POST', '/run_agent', { agent_id: 'crm-bot', auth_token: token, parameters: { query: 'open deals' }, run_async: false });
    const queued = await vault.call('POST', '/run_agent', { agent_id: 'crm-bot', auth_token: token, parameters: { query: 'open deals' } });
    await vault.deps.dispatcher.drain();
    const polled = await fetch(queued.json.agent_run_url, { headers: { authorization: `Bearer ${vault.apiKey}` } }).then((r) => r.json());
    const replaced = await vault.call('POST', '/api/upsert_agent_auth_profile', {
      agent_id: 'crm-bot',
      name: 'alice',
      auth_data: { username: 'alice', password: 'rotated' },
    });
    const oldTokenRun = await vault.call('POST', '/run_agent', { agent_id: 'crm-bot', auth_token: token, run_async: false });
    const listed = await vault.call('GET', '/v1/agents/crm-bot/auth-profiles');

    expect(updated.json).toEqual({ auth_token: token, name: 'alice', type: 'update' });
    expect(sync.json.agent_output).toMatchObject({ received_fields: ['password', 'query', 'username'], runs: 1 });
    expect(JSON.stringify(sync.json)).not.toContain('n3w-s3cret');
    expect(polled).toMatchObject({ status: 'succeeded', agent_output: { runs: 2 } });
    expect(replaced.json).toMatchObject({ name: 'alice', type: 'replace' });
    expect(replaced.json.auth_token).not.toBe(token);
    expect(oldTokenRun.status).toBe(404);
    expect(listed.json.profiles).toEqual([expect.objectContaining({ name: 'alice', fields: ['password', 'username'], generation: 2 })]);
    expect(runnerLog).toMatch(/signature ok/);
    expect(runnerLog).not.toContain('n3w-s3cret');
  });
});
