import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, runCli } from '../../clients/typescript/src/cli/main.ts';
import { VaultClient } from '../../clients/typescript/src/index.ts';
import { startTestRunner } from '#test/support/runner';
import { startEchoUpstream, type EchoUpstream } from '#test/support/upstream';
import { startTestVault, type TestVault } from '#test/support/vault';

let vault: TestVault;
let upstream: EchoUpstream;
let runner: Awaited<ReturnType<typeof startTestRunner>>;
let sdk: VaultClient;

beforeAll(async () => {
  [vault, upstream, runner] = await Promise.all([
    startTestVault(),
    startEchoUpstream(),
    startTestRunner((call) =>
      call.body?.parameters?.fail
        ? { body: { error: 'the runner could not log in' } }
        : { body: { output: { got: Object.keys(call.body?.parameters ?? {}).sort() } } },
    ),
  ]);
  sdk = new VaultClient({ baseUrl: vault.url, apiKey: vault.apiKey });
});

afterAll(async () => {
  await Promise.all([vault?.close(), upstream?.close(), runner?.close()]);
});

/** Runs the CLI in process with the vault's URL and key (override with `env`). */
async function cli(args: string[], env: Record<string, string | undefined> = {}, signal?: AbortSignal) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    env: { AGENT_VAULT_URL: vault.url, AGENT_VAULT_API_KEY: vault.apiKey, ...env },
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    signal,
  });
  return { code, stdout, stderr, json: () => JSON.parse(stdout) };
}

let seq = 0;
const newAgent = async (runnerUrl = runner.url) => {
  const id = `cli-${++seq}-${randomBytes(3).toString('hex')}`;
  const r = await cli([
    'agents',
    'create',
    id,
    '--name',
    'CLI bot',
    '--runner-url',
    runnerUrl,
    '--input-arg',
    'query',
    '--input-arg',
    'fail:public',
  ]);
  expect(r.code, r.stderr).toBe(EXIT.ok);
  return id;
};
const tokenIn = (text: string) => /avt_[A-Za-z0-9_-]+/.exec(text)?.[0] as string;

describe('agent-vault CLI: configuration and usage', () => {
  it('says which variable to set when the URL or the key is missing (exit 1)', async () => {
    const noUrl = await cli(['agents', 'list'], { AGENT_VAULT_URL: undefined });
    expect(noUrl.code).toBe(EXIT.usage);
    expect(noUrl.stderr).toMatch(/set AGENT_VAULT_URL/);
    const noKey = await cli(['agents', 'list'], { AGENT_VAULT_API_KEY: undefined });
    expect(noKey.code).toBe(EXIT.usage);
    expect(noKey.stderr).toMatch(/set AGENT_VAULT_API_KEY/);
    const flag = await cli(['health', '--vault-url', vault.url], { AGENT_VAULT_URL: undefined, AGENT_VAULT_API_KEY: undefined });
    expect([flag.code, flag.stdout]).toEqual([EXIT.ok, 'ok\n']);
  });

  it('answers a bad command line with exit 1 and the usage', async () => {
    const unknown = await cli(['agents', 'lsit']);
    expect(unknown.code).toBe(EXIT.usage);
    expect(unknown.stderr).toMatch(/unknown command "agents lsit"; try: agents list/);
    const badFlag = await cli(['agents', 'list', '--limt', '3']);
    expect(badFlag.code).toBe(EXIT.usage);
    expect(badFlag.stderr).toMatch(/--limt[\s\S]*usage: agent-vault agents list/);
    const secretTypo = await cli(['profiles', 'create', 'a', 'b', '--data', 'avt_looks_like_a_secret']);
    expect(secretTypo.code).toBe(EXIT.usage);
    expect(secretTypo.stderr).not.toContain('avt_looks_like_a_secret');
    expect((await cli(['--help'])).stdout).toMatch(/Exit codes: 0 ok/);
  });

  it('maps refusals to exit codes: 2 not found, 3 auth, 4 conflict, 5 unreachable, 1 invalid request', async () => {
    const id = await newAgent();

    const missing = await cli(['agents', 'get', 'no-such-agent']);
    expect(missing.code).toBe(EXIT.notFound);
    expect(missing.stderr).toMatch(/\[HTTP 404 agent_not_found\]/);
    const badKey = `avk_${randomBytes(32).toString('base64url')}`;
    const auth = await cli(['agents', 'list'], { AGENT_VAULT_API_KEY: badKey });
    expect(auth.code).toBe(EXIT.auth);
    expect(auth.stderr).toMatch(/check AGENT_VAULT_API_KEY/);
    expect(auth.stderr).not.toContain(badKey);
    const dup = await cli(['agents', 'create', id, '--name', 'x', '--runner-url', runner.url]);
    expect(dup.code).toBe(EXIT.conflict);
    expect(dup.stderr).toMatch(/agent_exists/);
    const down = await cli(['agents', 'list'], { AGENT_VAULT_URL: 'http://127.0.0.1:9' });
    expect(down.code).toBe(EXIT.unavailable);
    expect(down.stderr).toMatch(/is the vault running at http:\/\/127\.0\.0\.1:9/);
    const invalid = await cli(['agents', 'create', `${id}-2`, '--name', 'x', '--runner-url', 'not a url']);
    expect(invalid.code).toBe(EXIT.usage);
    expect(invalid.stderr).toMatch(/HTTP 400/);
  });

  it('prints errors as JSON on stderr with --json', async () => {
    const r = await cli(['agents', 'get', 'no-such-agent', '--json']);

    expect(r.code).toBe(EXIT.notFound);
    expect(r.stdout).toBe('');
    expect(JSON.parse(r.stderr).error).toMatchObject({ status: 404, code: 'agent_not_found', exit_code: 2 });
  });
});

describe('agent-vault CLI: commands against the local vault', () => {
  it('agents: create shows the signing secret once, list as a table or JSON, update keeps what is not passed, delete', async () => {
    const id = `cli-agents-${randomBytes(3).toString('hex')}`;
    const created = await cli([
      'agents',
      'create',
      id,
      '--name',
      'Table bot',
      '--runner-url',
      runner.url,
      '--input-arg',
      'username:required',
    ]);
    expect(created.stdout).toMatch(/runner signing secret \(shown once[^\n]*\n {2}avs_/);

    const listed = await cli(['agents', 'list']);
    const [header, ...rows] = listed.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^AGENT_ID\s+NAME\s+DELIVERY\s+RUNNER\s+INPUT_ARGS\s+OWNER$/);
    expect(rows.find((r) => r.startsWith(id))).toMatch(
      new RegExp(`^${id}\\s+Table bot\\s+parameters\\s+${runner.url.replace(/[.]/g, '\\.')}\\s+username`),
    );
    const asJson = (await cli(['agents', 'list', '--json'])).json() as Array<{ agent_id: string }>;
    expect(asJson.map((a) => a.agent_id)).toContain(id);

    const updated = await cli(['agents', 'update', id, '--name', 'Renamed', '--json']);
    expect(updated.json()).toMatchObject({
      agent_id: id,
      name: 'Renamed',
      runner: { url: runner.url },
      input_args: [{ name: 'username', required: true }],
    });
    expect((await cli(['agents', 'get', id])).stdout).toMatch(/^name:\s+Renamed$/m);
    expect((await cli(['agents', 'delete', id])).code).toBe(EXIT.ok);
    expect((await cli(['agents', 'get', id])).code).toBe(EXIT.notFound);
  });

  it('profiles: create shows the token once; list, search, get, patch, test, rotate, update, usage, delete', async () => {
    const id = await newAgent();
    const secret = `canary-${randomBytes(8).toString('hex')}`;
    const dir = mkdtempSync(join(tmpdir(), 'agent-vault-cli-'));
    writeFileSync(join(dir, 'token.txt'), `${secret}\n`);

    const created = await cli([
      'profiles',
      'create',
      id,
      'crm',
      '--type',
      'bearer',
      '--data',
      `token=@${join(dir, 'token.txt')}`,
      '--allowed-host',
      `127.0.0.1:${upstream.port}`,
    ]);
    expect(created.code, created.stderr).toBe(EXIT.ok);
    expect(created.stdout).toMatch(/auth token \(shown once; the vault keeps no copy, store it now\):\n {2}avt_/);
    expect(created.stdout).not.toContain(secret);
    const token = tokenIn(created.stdout);

    expect((await cli(['profiles', 'list', id])).stdout).toMatch(/^NAME\s+TYPE\s+ACTIVE[^\n]*\ncrm\s+bearer\s+true\s+valid\s+0/);
    const found = (await cli(['profiles', 'search', 'crm', '--json'])).json() as Array<{ agent_id: string; name: string }>;
    expect(found).toContainEqual(expect.objectContaining({ agent_id: id, name: 'crm' }));
    expect((await cli(['profiles', 'search', 'no-such-thing-anywhere'])).stdout).toBe('(none)\n');
    expect((await cli(['profiles', 'get', id, 'crm'])).stdout).toMatch(/^auth_type:\s+bearer$/m);

    expect((await cli(['profiles', 'patch', id, 'crm', '--active', 'false', '--json'])).json().active).toBe(false);
    const inactive = await cli(['proxy', id, 'GET', `${upstream.url}/ok`], { AGENT_VAULT_AUTH_TOKEN: token });
    expect(inactive.code).toBe(EXIT.auth);
    expect(inactive.stderr).toMatch(/profile_inactive/);
    await cli(['profiles', 'patch', id, 'crm', '--active', 'true']);
    const tested = await cli(['profiles', 'test', id, 'crm', '--url', `${upstream.url}/ok`], { AGENT_VAULT_AUTH_TOKEN: token });
    expect(tested.code, tested.stdout + tested.stderr).toBe(EXIT.ok);
    expect(tested.stdout).toMatch(/^ok:\s+true$/m);
    const failing = await cli(['profiles', 'test', id, 'crm', '--url', `${upstream.url}/status/500`, '--token', token]);
    expect(failing.code).toBe(EXIT.failed);
    expect(failing.stdout).toMatch(/^status:\s+500$/m);
    const wrongToken = `avt_${randomBytes(52).toString('base64url')}`;
    const refused = await cli(['profiles', 'test', id, 'crm', '--url', `${upstream.url}/ok`, '--token', wrongToken]);
    expect(refused.code).not.toBe(EXIT.ok);
    expect(refused.stderr).not.toContain(wrongToken);

    const rotated = await cli(['profiles', 'rotate', id, 'crm', '--token', token]);
    expect(rotated.stdout).toMatch(/rotated crm to generation 2\nnew auth token \(shown once/);
    const newToken = tokenIn(rotated.stdout);
    expect(newToken).not.toBe(token);
    const updated = await cli(['profiles', 'update', id, 'crm', '--data', 'token=another-secret-value-1234'], {
      AGENT_VAULT_AUTH_TOKEN: newToken,
    });
    expect(updated.stdout).toBe('updated profile crm in place; its token is unchanged\n');
    expect((await cli(['profiles', 'update', id, 'crm', '--data', 'token=x'])).stderr).toMatch(/AGENT_VAULT_AUTH_TOKEN/);

    const proxied = await cli(['proxy', id, 'get', `${upstream.url}/items`, '--header', 'X-Trace: 1', '--query', 'q=a'], {
      AGENT_VAULT_AUTH_TOKEN: newToken,
    });
    expect(proxied.code, proxied.stderr).toBe(EXIT.ok);
    expect(proxied.stdout).toMatch(/^HTTP 200\n/);
    expect(upstream.seen.at(-1)).toMatchObject({ method: 'GET', path: '/items', query: { q: ['a'] } });
    expect(upstream.seen.at(-1)?.headers.authorization).toBe('Bearer another-secret-value-1234');
    const proxiedJson = (await cli(['proxy', id, 'GET', `${upstream.url}/status/404`, '--json', '--fail'], {
      AGENT_VAULT_AUTH_TOKEN: newToken,
    })) as Awaited<ReturnType<typeof cli>>;
    expect(proxiedJson.code).toBe(EXIT.failed);
    expect(proxiedJson.json()).toMatchObject({ status: 404, body_encoding: 'utf8' });
    expect((await cli(['profiles', 'usage', id, 'crm'])).stdout).toMatch(/^use_count:\s+\d+$/m);

    const inUse = await cli(['profiles', 'delete', id, 'crm']);
    expect(inUse.code).toBe(EXIT.conflict);
    expect(inUse.stderr).toMatch(/profile_in_use/);
    expect((await cli(['profiles', 'delete', id, 'crm', '--force'])).code).toBe(EXIT.ok);
    expect((await cli(['profiles', 'get', id, 'crm'])).code).toBe(EXIT.notFound);
  });

  it('runs: start synchronously (exit 6 when the run failed), asynchronously with --wait, and get', async () => {
    const id = await newAgent();
    const token = tokenIn((await cli(['profiles', 'create', id, 'p', '--data', 'query=v'])).stdout);

    const ok = await cli(['runs', 'start', id, '--token', token]);
    expect(ok.code, ok.stderr).toBe(EXIT.ok);
    expect(ok.stdout).toMatch(/^status:\s+succeeded$/m);
    expect(ok.stdout).toMatch(/^output:\s+\{"got":\["query"\]\}$/m);
    const failed = await cli(['runs', 'start', id, '--token', token, '--param', 'fail=yes', '--json']);
    expect(failed.code).toBe(EXIT.failed);
    expect(failed.json().error_message).toBe('the runner could not log in');
    const waited = await cli(['runs', 'start', id, '--token', token, '--async', '--wait', '--poll-ms', '100', '--json']);
    expect(waited.code, waited.stderr).toBe(EXIT.ok);
    expect(waited.json()).toMatchObject({ status: 'succeeded' });
    expect((await cli(['runs', 'get', waited.json().session_id])).stdout).toMatch(/^status:\s+succeeded$/m);
    expect((await cli(['runs', 'get', 'no-such-run'])).code).toBe(EXIT.notFound);
  });

  it('audit: list as a table or JSON, and tail --follow prints new records as they come', async () => {
    const id = await newAgent();

    const listed = await cli(['audit', 'list', '--limit', '3']);
    expect(listed.stdout.split('\n')[0]).toMatch(/^AT\s+ACTION\s+AGENT_ID\s+PROFILE\s+KEY_ID\s+STATUS\s+RESULT$/);
    const records = (await cli(['audit', 'list', '--agent', id, '--json'])).json() as Array<{ action: string }>;
    expect(records.map((r) => r.action)).toEqual(['agent_create']);

    const controller = new AbortController();
    let out = '';
    const tail = runCli(['audit', 'tail', '--follow', '--agent', id, '--interval-ms', '100'], {
      env: { AGENT_VAULT_URL: vault.url, AGENT_VAULT_API_KEY: vault.apiKey },
      stdout: (t) => {
        out += t;
      },
      stderr: () => undefined,
      signal: controller.signal,
    });
    await expect.poll(() => out, { timeout: 10_000 }).toMatch(/agent_create/);
    await sdk.createAuthProfile(id, { name: 'tailed', auth_data: { query: 'v' } });
    await sdk.deleteAgentAuthProfile(id, 'tailed');
    await expect.poll(() => out, { timeout: 10_000 }).toMatch(/create[\s\S]*delete/);
    controller.abort();

    expect(await tail).toBe(EXIT.ok);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^AT\s+ACTION/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[1])).toEqual(['agent_create', 'create', 'delete']);
  });

  it('api-keys: create shows the key once, list, revoke; a member key is refused with exit 3', async () => {
    const created = await cli(['api-keys', 'create', 'cli-member', '--json']);
    const key = created.json() as { api_key: string; key_id: string; role: string };
    expect(key.role).toBe('member');

    expect((await cli(['api-keys', 'list'])).stdout).toMatch(new RegExp(`^${key.key_id}\\s+cli-member\\s+member`, 'm'));
    expect((await cli(['api-keys', 'list'])).stdout).not.toContain(key.api_key);
    const asMember = await cli(['api-keys', 'list'], { AGENT_VAULT_API_KEY: key.api_key });
    expect(asMember.code).toBe(EXIT.auth);
    expect(asMember.stderr).toMatch(/needs an admin API key/);
    expect((await cli(['api-keys', 'revoke', key.key_id])).stdout).toBe(`revoked ${key.key_id}\n`);
    expect((await cli(['api-keys', 'revoke', key.key_id])).code).toBe(EXIT.notFound);
  });
});

describe('agent-vault CLI: the bin', () => {
  const bin = fileURLToPath(new URL('../../clients/typescript/bin/agent-vault.js', import.meta.url));
  const run = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [bin, ...args],
        { env: { ...process.env, AGENT_VAULT_URL: vault.url, AGENT_VAULT_API_KEY: vault.apiKey, ...env } },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
      );
    });

  it('runs as a process: JSON on stdout with exit 0, and the documented exit codes', async () => {
    const id = await newAgent();

    const ok = await run(['agents', 'get', id, '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).agent_id).toBe(id);
    const missing = await run(['agents', 'get', 'no-such-agent']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^agent-vault: .*\[HTTP 404 agent_not_found\]/);
  });
});
