import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, runCli } from '../../clients/typescript/src/cli/main.ts';
import { VaultClient } from '../../clients/typescript/src/index.ts';
import { verifySignature } from '#shared/runs/signature';
import { startAuthServer } from '#test/support/auth-server';
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

  it("profiles: list --all and search with the vault's filters, rename keeping the token", async () => {
    const tag = randomBytes(3).toString('hex');
    const [first, second] = [await newAgent(), await newAgent()];
    const token = tokenIn((await cli(['profiles', 'create', first, `billing-${tag}`, '--data', 'query=v'])).stdout);
    await cli(['profiles', 'create', first, `crm-${tag}`, '--type', 'bearer', '--data', 'token=t2-value']);
    await cli(['profiles', 'create', second, `billing-${tag}`, '--data', 'query=w']);
    await cli(['profiles', 'patch', first, `crm-${tag}`, '--active', 'false']);

    const all = await cli(['profiles', 'list', '--all', '--type', 'custom', '--json']);
    const mine = (all.json() as Array<{ agent_id: string; name: string; auth_type: string }>).filter((p) => p.name.endsWith(tag));
    expect(mine.map((p) => p.agent_id).sort()).toEqual([first, second].sort());
    expect(mine.every((p) => p.auth_type === 'custom')).toBe(true);
    const table = await cli(['profiles', 'list', '--all', '--active', 'false']);
    expect(table.stdout.split('\n')[0]).toMatch(/^AGENT_ID\s+NAME\s+TYPE/);
    expect(table.stdout).toMatch(new RegExp(`^${first}\\s+crm-${tag}\\s+bearer\\s+false`, 'm'));
    expect((await cli(['profiles', 'list', first, '--type', 'bearer', '--json'])).json().map((p: { name: string }) => p.name)).toEqual([
      `crm-${tag}`,
    ]);
    expect((await cli(['profiles', 'list'])).code).toBe(EXIT.usage);
    expect((await cli(['profiles', 'list', first, '--all'])).code).toBe(EXIT.usage);
    const badFilter = await cli(['profiles', 'list', '--all', '--token-state', 'soon']);
    expect(badFilter.code).toBe(EXIT.usage);
    expect(badFilter.stderr).toMatch(/HTTP 400/);

    const found = (await cli(['profiles', 'search', `BILLING-${tag}`, '--json'])).json() as Array<{ agent_id: string }>;
    expect(found.map((p) => p.agent_id).sort()).toEqual([first, second].sort());
    expect((await cli(['profiles', 'search', tag, '--agent', second, '--json'])).json()).toHaveLength(1);

    const renamed = await cli(['profiles', 'rename', first, `billing-${tag}`, `invoices-${tag}`]);
    expect(renamed.stdout).toBe(`renamed profile billing-${tag} of agent ${first} to invoices-${tag}; its token is unchanged\n`);
    expect((await cli(['profiles', 'get', first, `billing-${tag}`])).code).toBe(EXIT.notFound);
    const run = await cli(['runs', 'start', first, '--token', token]);
    expect(run.code, run.stderr).toBe(EXIT.ok);
    const taken = await cli(['profiles', 'rename', first, `invoices-${tag}`, `crm-${tag}`]);
    expect(taken.code).toBe(EXIT.conflict);
    expect(taken.stderr).toMatch(/profile_exists/);
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

describe('agent-vault CLI: OAuth authorization-code profiles', () => {
  it('profiles create prints the token and a connect link; connect issues a new link; disconnect revokes at the provider', async () => {
    const as = await startAuthServer();
    try {
      const id = await newAgent();
      const dir = mkdtempSync(join(tmpdir(), 'agent-vault-cli-oauth-'));
      writeFileSync(
        join(dir, 'config.json'),
        JSON.stringify({
          authorize_url: `${as.url}/authorize`,
          token_url: `${as.url}/token`,
          revocation_url: `${as.url}/revoke`,
          return_url: 'http://127.0.0.1:9/back',
          scopes: ['read'],
        }),
      );
      const created = await cli([
        'profiles',
        'create',
        id,
        'acct',
        '--type',
        'oauth2_authorization_code',
        '--config-file',
        join(dir, 'config.json'),
        '--data',
        'client_id=vault-client',
        '--data',
        'client_secret=cs-cli-secret-value',
        '--end-user-id',
        'user-7',
      ]);
      expect(created.code, created.stderr).toBe(EXIT.ok);
      expect(created.stdout).toMatch(
        /auth token \(shown once[^\n]*\n {2}avt_\S+\nconnect link for the end user's browser \(single use, until [^)]+\):\n {2}http:\S+\/v1\/oauth\/connect\?link=\S+\n$/,
      );
      const token = tokenIn(created.stdout);

      const linked = await cli(['profiles', 'connect', id, 'acct'], { AGENT_VAULT_AUTH_TOKEN: token });
      expect(linked.code, linked.stderr).toBe(EXIT.ok);
      const url = /^ {2}(http\S+)$/m.exec(linked.stdout)?.[1] as string;
      // The end user's browser: the link, the provider's consent, the vault's callback.
      const toProvider = await fetch(url, { redirect: 'manual' });
      const toCallback = await fetch(toProvider.headers.get('location') as string, { redirect: 'manual' });
      const back = await fetch(toCallback.headers.get('location') as string, { redirect: 'manual' });
      expect(back.headers.get('location')).toBe('http://127.0.0.1:9/back?status=connected');
      const shown = await cli(['profiles', 'get', id, 'acct']);
      expect(shown.stdout).toMatch(/^connection_state:\s+connected$/m);
      expect(shown.stdout).toMatch(/^end_user_id:\s+user-7$/m);
      expect((await cli(['profiles', 'list', id])).stdout).toMatch(
        /^NAME\s+TYPE[^\n]*\s+CONNECTION\nacct\s+oauth2_authorization_code\s.*\s+connected$/m,
      );
      expect((await cli(['profiles', 'connect', id, 'acct'])).stderr).toMatch(/AGENT_VAULT_AUTH_TOKEN/);

      const disconnected = await cli(['profiles', 'disconnect', id, 'acct', '--token', token]);
      expect(disconnected.code, disconnected.stderr).toBe(EXIT.ok);
      expect(disconnected.stdout).toMatch(/^connection_state:\s+disconnected\nrevocation:\s+confirmed\n$/);
      expect(as.revoked).toHaveLength(1);
      expect((await cli(['profiles', 'delete', id, 'acct', '--token', token])).code).toBe(EXIT.ok);
    } finally {
      await as.close();
    }
  });
});

describe('agent-vault CLI: webhooks', () => {
  it('create shows the secret once; list, get, update, test, deliveries, rotate-secret, delete; refusals map to exit codes', async () => {
    const seen: Array<{ body: string; signature: string }> = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ body: Buffer.concat(chunks).toString('utf8'), signature: String(req.headers['x-agent-vault-signature']) });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    try {
      const noEvents = await cli(['webhooks', 'create', url]);
      expect(noEvents.code).toBe(EXIT.usage);
      expect(noEvents.stderr).toMatch(/--event TYPE/);
      const badEvent = await cli(['webhooks', 'create', url, '--event', 'no.such_event']);
      expect(badEvent.code).toBe(EXIT.usage);
      expect(badEvent.stderr).toMatch(/HTTP 400/);

      const created = await cli(['webhooks', 'create', url, '--event', 'profile.deleted', '--description', 'cli hooks']);
      expect(created.code, created.stderr).toBe(EXIT.ok);
      expect(created.stdout).toMatch(/signing secret \(shown once[^\n]*\n {2}avw_/);
      const secret = /avw_[A-Za-z0-9_-]+/.exec(created.stdout)?.[0] as string;
      const hook = /^webhook_id:\s+(wh_\S+)$/m.exec(created.stdout)?.[1] as string;
      expect(hook).toMatch(/^wh_/);

      const listed = await cli(['webhooks', 'list']);
      expect(listed.stdout.split('\n')[0]).toMatch(/^WEBHOOK_ID\s+URL\s+EVENTS\s+ACTIVE\s+DESCRIPTION$/);
      expect(listed.stdout).toMatch(new RegExp(`^${hook}\\s+\\S+/hooks\\s+profile\\.deleted\\s+true\\s+cli hooks$`, 'm'));
      expect(listed.stdout).not.toContain(secret);
      expect((await cli(['webhooks', 'get', hook])).stdout).toMatch(/^events:\s+profile\.deleted$/m);

      const updated = await cli([
        'webhooks',
        'update',
        hook,
        '--event',
        'profile.deleted',
        '--event',
        'connection.needs_reauth',
        '--clear-description',
        '--json',
      ]);
      expect(updated.json()).toMatchObject({ webhook_id: hook, events: ['profile.deleted', 'connection.needs_reauth'] });
      expect(updated.json().description).toBeUndefined();
      expect((await cli(['webhooks', 'update', hook])).code).toBe(EXIT.usage);

      const tested = await cli(['webhooks', 'test', hook]);
      expect(tested.stdout).toMatch(/^queued test event evt_\S+ \(delivery dlv_[0-9a-f]+\)$/m);
      await expect.poll(() => seen.length, { timeout: 20_000 }).toBe(1);
      expect(verifySignature(secret, seen[0]!.body, seen[0]!.signature)).toBe(true);
      await expect
        .poll(async () => (await cli(['webhooks', 'deliveries', hook])).stdout, { timeout: 20_000 })
        .toMatch(/^\S+\s+webhook\.test\s+delivered\s+1\/\d+\s+200\s+delivered\s/m);
      expect((await cli(['webhooks', 'deliveries', hook])).stdout.split('\n')[0]).toMatch(
        /^CREATED_AT\s+EVENT\s+STATUS\s+ATTEMPTS\s+HTTP\s+OUTCOME\s+NEXT_ATTEMPT\s+EVENT_ID\s+DELIVERY_ID$/,
      );

      const rotated = await cli(['webhooks', 'rotate-secret', hook]);
      expect(rotated.stdout).toMatch(/^signing secret \(shown once[^\n]*\n {2}avw_/);
      const newSecret = /avw_[A-Za-z0-9_-]+/.exec(rotated.stdout)?.[0] as string;
      await cli(['webhooks', 'test', hook]);
      await expect.poll(() => seen.length, { timeout: 20_000 }).toBe(2);
      expect(verifySignature(newSecret, seen[1]!.body, seen[1]!.signature)).toBe(true);
      expect(verifySignature(secret, seen[1]!.body, seen[1]!.signature)).toBe(false);
      expect(((await cli(['webhooks', 'deliveries', hook, '--limit', '1', '--json'])).json() as unknown[]).length).toBe(1);

      const member = (await cli(['api-keys', 'create', 'cli-hooks-member', '--json'])).json() as { api_key: string };
      const refused = await cli(['webhooks', 'list'], { AGENT_VAULT_API_KEY: member.api_key });
      expect(refused.code).toBe(EXIT.auth);

      expect((await cli(['webhooks', 'delete', hook])).stdout).toBe(`deleted webhook ${hook}\n`);
      const gone = await cli(['webhooks', 'get', hook]);
      expect(gone.code).toBe(EXIT.notFound);
      expect(gone.stderr).toMatch(/webhook_not_found/);
    } finally {
      await new Promise<void>((r) => {
        receiver.close(() => r());
        receiver.closeAllConnections();
      });
    }
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
