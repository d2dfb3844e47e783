import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium } from '#test/support/browser';
import { startTestRunner } from '#test/support/runner';
import { type EchoUpstream, startEchoUpstream } from '#test/support/upstream';
import { type TestVault, startTestVault } from '#test/support/vault';

// Screenshots for docs/console.md: `npm run screenshots` sets this and writes docs/screenshots/*.png.
const SHOTS = process.env.VAULT_SCREENSHOTS ? join(process.cwd(), 'docs', 'screenshots') : undefined;
const KEY_A = 'canary-key-a-6c1d93';
const KEY_B = 'canary-key-b-0e7f25';

if (!hasChromium()) console.warn('console manage e2e skipped: /usr/bin/chromium is missing (apt-get install -y chromium; .ci/run does it)');

/**
 * Managing profiles in the console as the source consoles do (issue 20, items 5–8, 10, 11): every
 * setting set and shown, API Key pairs, Test Profile after Create, the token shown once with
 * Show/Hide and Copy, Rotate refreshing the page's state, the Delete dialog with the usage of a
 * profile in use, a read-only member's disabled controls, and the mends (hidden buttons, stale
 * test results, deep links, the audit table's width, key names and profile filter, the Runs page).
 */
describe.skipIf(!hasChromium())('browser console: managing profiles (headless Chromium)', () => {
  let vault: TestVault;
  let upstream: EchoUpstream;
  let runner: Awaited<ReturnType<typeof startTestRunner>>;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let page: Page;
  const problems: string[] = [];
  const AGENT = 'mgr';
  const PROFILE = 'crm-keys';
  const PROFILE_URL = `/v1/agents/${AGENT}/auth-profiles/${PROFILE}`;
  let token = '';

  const open = async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: vault.url });
    contexts.push(context);
    const p = await context.newPage();
    p.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy|Trusted Type/i.test(m.text())) problems.push(m.text());
    });
    p.on('pageerror', (e) => problems.push(e.message));
    return p;
  };
  const shot = async (p: Page, name: string, fullPage = true) => {
    if (SHOTS) await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
  };
  const dd = (p: Page, label: string) => p.getByTestId('profile-meta').locator(`dt:text-is("${label}") + dd`);
  const stored = async () => (await vault.call('GET', PROFILE_URL)).json;

  beforeAll(async () => {
    if (SHOTS) mkdirSync(SHOTS, { recursive: true });
    vault = await startTestVault();
    upstream = await startEchoUpstream();
    runner = await startTestRunner(() => ({ body: { output: { ok: true } } }));
    browser = await launchChromium();
    page = await open();
    const agent = await vault.call('POST', '/v1/agents', { agent_id: AGENT, name: 'Manager', input_args: [{ name: 'query' }], runner: { type: 'webhook', url: runner.url } });
    expect(agent.status).toBe(201);
  });

  afterAll(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await runner?.close();
    await upstream?.close();
    await vault?.close();
  });

  it('keeps a deep link through sign-in', async () => {
    await page.goto(`${vault.url}/console/#/agents/${AGENT}`);
    await page.waitForURL(/#\/sign-in$/);
    await page.getByTestId('api-key').fill(vault.apiKey);
    await page.getByRole('button', { name: 'Sign in' }).click();

    await page.waitForURL(new RegExp(`#/agents/${AGENT}$`));
    await page.getByRole('heading', { name: 'Manager' }).waitFor();
  });

  it('names the types as the source consoles do, and has no Test for a custom profile', async () => {
    await page.getByTestId('new-profile').click();
    const options = await page.getByTestId('auth-type').locator('option').allTextContents();
    expect(options.slice(1)).toEqual(['Bearer Token', 'Basic Auth', 'API Key', 'OAuth 2.0 Client Credentials', "OAuth 2.0 Authorization Code (connect a user's account)"]);
    expect(await page.getByTestId('new-test-url').count()).toBe(0); // custom: its values go to the runner
    await page.getByTestId('auth-type').selectOption('bearer');
    expect(await page.getByTestId('new-test-url').count()).toBe(1);
  });

  it('creates an API Key profile with two keys and every setting, then tests it with the new token', async () => {
    await page.getByTestId('profile-name').fill(PROFILE);
    await page.getByTestId('auth-type').selectOption('api_key');
    await page.getByTestId('add-pair').click();
    const names = page.locator('[data-pair="name"]');
    const values = page.locator('[data-pair="value"]');
    await names.nth(0).fill('X-Api-Key');
    await values.nth(0).fill(KEY_A);
    await names.nth(1).fill('X-App-Id');
    await values.nth(1).fill(KEY_B);
    expect(await values.nth(1).getAttribute('type')).toBe('password');
    await page.getByTestId('profile-description').fill('CRM keys for the nightly sync');
    await page.getByTestId('allowed-hosts').fill(`127.0.0.1:${upstream.port}\napi.example.com`);
    await page.getByTestId('allowed-prefixes').fill('/v1\n/v2');
    await page.locator('[data-method="GET"]').check();
    await page.locator('[data-method="POST"]').check();
    await page.getByTestId('allowed-ips').fill('127.0.0.1\n::1');
    await page.getByTestId('expires-hours').fill('48');
    await page.getByTestId('new-test-url').fill(`${upstream.url}/v1/me`);
    await shot(page, 'new-profile-form');
    await page.getByTestId('create-profile').click();

    const secret = page.getByTestId('auth-token');
    await secret.waitFor();
    const meta = await stored();
    expect(meta).toMatchObject({
      auth_type: 'api_key',
      fields: ['X-Api-Key', 'X-App-Id'],
      description: 'CRM keys for the nightly sync',
      allowed_hosts: [`127.0.0.1:${upstream.port}`, 'api.example.com'],
      allowed_path_prefixes: ['/v1', '/v2'],
      allowed_methods: ['GET', 'POST'],
      allowed_source_ips: ['127.0.0.1', '::1'],
      token_expires_at: expect.any(String),
    });
    expect(Date.parse(meta.token_expires_at) - Date.now()).toBeGreaterThan(47 * 3_600_000);

    // Test Profile: a real call through the vault with the new token; both keys injected.
    await page.getByTestId('new-test').click();
    await expect.poll(() => page.getByTestId('new-test-result').textContent()).toMatch(/^ok status 200, \d+ ms$/);
    const seen = upstream.seen.at(-1);
    expect([seen?.path, seen?.headers['x-api-key'], seen?.headers['x-app-id']]).toEqual(['/v1/me', KEY_A, KEY_B]);
    expect((await stored()).last_test_ok).toBe(true);
    expect(await page.content()).not.toContain(KEY_A);
  });

  it('shows the token once, masked until Show, with Copy token and Copy of its request field', async () => {
    const secret = page.getByTestId('auth-token');
    expect(await secret.getAttribute('data-masked')).toBe('true');
    expect(await secret.textContent()).not.toContain('avt_');
    await page.getByTestId('auth-token-toggle').click();
    token = (await secret.textContent()) ?? '';
    expect(token).toMatch(/^avt_[A-Za-z0-9_-]+$/);
    await shot(page, 'new-profile-tested');
    await page.getByTestId('auth-token-toggle').click();
    expect(await secret.textContent()).not.toContain('avt_');

    await page.getByRole('button', { name: 'Copy token' }).click();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(token);
    await page.getByRole('button', { name: 'Copy "auth_token" field' }).click();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(`"auth_token": "${token}"`);
    await page.evaluate('navigator.clipboard.writeText("")');
  });

  it('shows every setting on the profile page and saves changed ones with Save settings', async () => {
    await page.getByRole('button', { name: 'I have saved it' }).click();
    await page.waitForURL(new RegExp(`#/agents/${AGENT}/profiles/${PROFILE}$`));
    expect(await dd(page, 'Description').textContent()).toBe('CRM keys for the nightly sync');
    expect(await dd(page, 'Allowed hosts').textContent()).toBe(`127.0.0.1:${upstream.port}, api.example.com`);
    expect(await dd(page, 'Allowed methods').textContent()).toBe('GET, POST');
    expect(await dd(page, 'Caller IPs').textContent()).toBe('127.0.0.1, ::1');
    expect(await dd(page, 'Type').textContent()).toBe('API Key');
    expect(await page.getByTestId('allowed-prefixes').inputValue()).toBe('/v1\n/v2');

    await page.getByTestId('allowed-prefixes').fill('');
    await page.locator('[data-method="POST"]').uncheck();
    await page.getByTestId('allowed-ips').fill('127.0.0.1\n::1\n10.0.0.0/8');
    await page.getByTestId('profile-description').fill('CRM keys');
    await page.getByTestId('save-settings').click();

    await page.getByText('Settings saved.').waitFor();
    const meta = await stored();
    expect(meta).toMatchObject({ description: 'CRM keys', allowed_methods: ['GET'], allowed_source_ips: ['127.0.0.1', '::1', '10.0.0.0/8'] });
    expect(meta.allowed_path_prefixes).toBeUndefined();
    expect(await dd(page, 'Allowed path prefixes').textContent()).toBe('every path');
    expect(await dd(page, 'Description').textContent()).toBe('CRM keys');
    await shot(page, 'profile-settings');
  });

  it('clears a stale Test result, and its advice names the button, not the API request', async () => {
    await page.getByTestId('test-token').fill(token);
    await page.getByTestId('test-url').fill(`${upstream.url}/v1/me`);
    await page.getByTestId('test-profile').click();
    await expect.poll(() => page.getByTestId('test-result').textContent()).toMatch(/^ok status 200/);

    expect((await vault.call('PATCH', PROFILE_URL, { active: false })).status).toBe(200);
    await page.getByTestId('test-token').fill(token);
    await page.getByTestId('test-profile').click();
    const error = page.getByTestId('test-result').locator('xpath=..').locator('.notice-error');
    await expect.poll(() => error.textContent()).toContain('(403 profile_inactive)');
    expect(await page.getByTestId('test-result').textContent()).toBe('');
    expect(await error.textContent()).toContain('Activate');
    expect(await error.textContent()).not.toContain('PATCH');
    expect((await vault.call('PATCH', PROFILE_URL, { active: true })).status).toBe(200);
  });

  it('refreshes the generation and expiry after Rotate while the new token is on screen', async () => {
    expect((await vault.call('PATCH', PROFILE_URL, { active: true })).status).toBe(200); // whatever the test above left
    await page.reload();
    expect(await page.getByTestId('generation').textContent()).toMatch(/^1 /);
    const before = await page.getByTestId('token-state').locator('time').getAttribute('datetime');
    expect(await page.getByTestId('token-state').locator('[data-badge]').textContent()).toBe('valid');
    await page.getByTestId('rotate-token').fill(token);
    await page.getByTestId('rotate-hours').fill('2');
    await page.getByTestId('rotate-profile').click();

    await page.getByTestId('auth-token').waitFor();
    await expect.poll(() => page.getByTestId('generation').textContent()).toMatch(/^2 /);
    const after = await page.getByTestId('token-state').locator('time').getAttribute('datetime');
    expect(after).not.toBe(before);
    expect(after).toBe((await stored()).token_expires_at);
    expect(await page.getByTestId('token-state').locator('[data-badge]').textContent()).toBe('expiring soon'); // 2 h left
    await page.getByTestId('auth-token-toggle').click();
    token = (await page.getByTestId('auth-token').textContent()) ?? '';
    expect(token).toMatch(/^avt_/);
    await page.getByRole('button', { name: 'I have saved it' }).click();
    await page.getByRole('heading', { name: 'Usage' }).waitFor();
  });

  it('shows what uses a profile in the Delete dialog and deactivates it instead, never saying ?force', async () => {
    const proxied = await vault.call('POST', '/v1/proxy', { agent_id: AGENT, auth_token: token, method: 'GET', url: `${upstream.url}/v1/deals` });
    expect(proxied.status, proxied.text).toBe(200);
    await page.reload();
    await page.getByTestId('delete-profile').click();
    const dialog = page.getByTestId('delete-dialog');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('Its auth token stops working at once');
    await page.getByTestId('delete-confirm').click();

    await dialog.getByText('This profile is in use').waitFor();
    const text = (await dialog.textContent()) ?? '';
    expect(text).toMatch(/0 runs, 1 proxied calls, [12] tests/);
    const uses = dialog.getByTestId('delete-uses').locator('tbody tr').first().locator('td');
    expect((await uses.allTextContents()).slice(1)).toEqual(['proxy', '200 ok', 'bootstrap key', '127.0.0.1']);
    expect(text).not.toMatch(/force|PATCH/);
    await shot(page, 'profile-delete-in-use', false); // the dialog, over the page

    await page.getByTestId('delete-deactivate').click();
    await page.getByRole('heading', { name: 'Inactive' }).waitFor();
    expect(await page.getByTestId('delete-dialog').count()).toBe(0);
    expect(await stored()).toMatchObject({ active: false });
  });

  it('deletes an unused profile through the dialog; Cancel keeps it', async () => {
    const created = await vault.call('POST', `/v1/agents/${AGENT}/auth-profiles`, { name: 'spare', auth_type: 'bearer', auth_data: { token: 'x' } });
    expect(created.status).toBe(201);
    await page.goto(`${vault.url}/console/#/agents/${AGENT}/profiles/spare`);
    await page.getByTestId('delete-profile').click();
    await page.getByTestId('delete-cancel').click();
    // The dialog leaves the page on its close event, which fires after the click has returned.
    await expect.poll(() => page.getByTestId('delete-dialog').count()).toBe(0);
    expect((await vault.call('GET', `/v1/agents/${AGENT}/auth-profiles/spare`)).status).toBe(200);
    await page.getByTestId('delete-profile').click();
    await page.getByTestId('delete-confirm').click();
    await page.waitForURL(new RegExp(`#/agents/${AGENT}$`));
    expect((await vault.call('GET', `/v1/agents/${AGENT}/auth-profiles/spare`)).status).toBe(404);
  });

  it('shows a read-only member every write control disabled with the reason, and sends no write', async () => {
    const bob = (await vault.call('POST', '/v1/api-keys', { name: 'bob', role: 'member' })).json;
    expect((await vault.call('POST', `${PROFILE_URL}/share`, { principal: bob.key_id, permission: 'read' })).status).toBe(200);
    const member = await open();
    const writes: string[] = [];
    member.on('request', (r) => {
      if (r.method() !== 'GET') writes.push(`${r.method()} ${r.url()}`);
    });
    await member.goto(`${vault.url}/console/#/agents/${AGENT}/profiles/${PROFILE}`);
    await member.getByTestId('api-key').fill(bob.api_key);
    await member.getByRole('button', { name: 'Sign in' }).click();
    await member.getByRole('heading', { name: `Profile ${PROFILE}` }).waitFor();
    writes.length = 0; // the sign-in itself

    const reason = (await member.getByTestId('read-only').textContent()) ?? '';
    expect(reason).toContain('Read only: your key has Read on this profile');
    for (const id of ['save-settings', 'rotate-profile', 'toggle-active', 'share-profile', 'delete-profile', 'allowed-hosts', 'rotate-token']) {
      expect(await member.getByTestId(id).isDisabled(), id).toBe(true);
    }
    expect(await member.getByTestId('delete-profile').getAttribute('title')).toBe(reason);
    await member.getByTestId('delete-profile').click({ force: true });
    expect(await member.getByTestId('delete-dialog').count()).toBe(0);
    // Read is enough to test it: that form stays on.
    expect(await member.getByTestId('test-profile').isDisabled()).toBe(false);
    await shot(member, 'profile-read-only');

    await member.goto(`${vault.url}/console/#/agents/${AGENT}`);
    await member.getByTestId('read-only').waitFor();
    expect(await member.getByTestId('read-only').textContent()).toContain("only this agent's owner or an admin");
    for (const id of ['edit-agent', 'rotate-secret']) expect(await member.getByTestId(id).isDisabled(), id).toBe(true);
    expect(writes).toEqual([]);
  });

  it('hides "Load more" when there is nothing more, and pages agents without duplicates', async () => {
    await page.goto(`${vault.url}/console/#/agents`);
    await page.getByTestId('agents-table').waitFor();
    expect(await page.getByTestId('agents-more').isVisible()).toBe(false);

    for (let i = 0; i < 50; i++) expect((await vault.call('POST', '/v1/agents', { agent_id: `bulk-${String(i).padStart(2, '0')}`, name: `Bulk ${i}`, input_args: [], runner: { type: 'webhook', url: runner.url } })).status).toBe(201);
    await page.reload();
    const ids = () => page.getByTestId('agents-table').locator('tbody tr td:first-child').allTextContents();
    await expect.poll(async () => (await ids()).length).toBe(50);
    await page.getByTestId('agents-more').click();
    await expect.poll(async () => (await ids()).length).toBe(51);
    expect(new Set(await ids()).size).toBe(51);
    expect(await page.getByTestId('agents-more').isVisible()).toBe(false);
  });

  it('fits the audit log in a 1280 px window, names known keys, and filters by profile only with an agent', async () => {
    const long = `a${'b'.repeat(120)}`;
    expect((await vault.call('POST', '/v1/agents', { agent_id: long, name: 'Long', input_args: [], runner: { type: 'webhook', url: runner.url } })).status).toBe(201);
    await page.goto(`${vault.url}/console/#/audit`);
    const table = page.getByTestId('audit-table');
    await table.waitFor();
    expect(await table.locator('tbody tr td:nth-child(3)').allTextContents()).toContain(long);
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(1280);
    const keys = await table.locator('tbody tr td:nth-child(8)').allTextContents();
    expect(keys).toContain('bootstrap key');
    expect(keys.some((k) => /^[0-9a-f]{16}$/.test(k))).toBe(false);

    await page.getByTestId('audit-agent').fill(AGENT);
    await page.getByTestId('audit-profile').fill(PROFILE);
    await page.getByTestId('audit-filter').click();
    await expect.poll(async () => new Set(await table.locator('tbody tr td:nth-child(4)').allTextContents())).toEqual(new Set([PROFILE]));
    await page.getByTestId('audit-agent').fill('');
    await page.getByTestId('audit-filter').click();
    await expect.poll(async () => (await table.locator('tbody tr td:nth-child(3)').allTextContents()).includes(long)).toBe(true);
    expect(await page.locator('.notice-error').count()).toBe(0);
  });

  it('lists recent runs on the Runs page, and keeps its button clear of the label', async () => {
    expect((await vault.call('PATCH', PROFILE_URL, { active: true })).status).toBe(200);
    const custom = await vault.call('POST', '/api/create_agent_auth_profile', { agent_id: AGENT, name: 'runner-creds', auth_data: { query: 'x' } });
    const run = await vault.call('POST', '/run_agent', { agent_id: AGENT, auth_token: custom.json.auth_token, run_async: false });
    expect(run.status, run.text).toBe(200);
    // A custom profile's page has no Test form either (its values go to the runner as they are).
    await page.goto(`${vault.url}/console/#/agents/${AGENT}/profiles/runner-creds`);
    await page.getByRole('heading', { name: 'Usage' }).waitFor();
    expect(await page.getByTestId('test-profile').count()).toBe(0);
    expect(await page.getByTestId('rotate-profile').count()).toBe(1);
    await page.goto(`${vault.url}/console/#/runs`);
    const rows = page.getByTestId('runs-table').locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().locator('td').allTextContents()).toEqual([expect.any(String), run.json.session_id, AGENT, 'runner-creds', 'bootstrap key', 'started']);

    const label = await page.getByText('Wait for the runner').boundingBox();
    const button = await page.getByTestId('start-run').boundingBox();
    expect(label && button && button.y >= label.y + label.height).toBe(true);
    await page.getByTestId('run-agent').selectOption(AGENT);
    await shot(page, 'runs');
    await rows.first().getByRole('link').click();
    await page.waitForURL(new RegExp(`#/runs/${run.json.session_id}$`));
  });

  it('broke no policy and threw nothing', () => {
    expect(problems).toEqual([]);
  });
});
