import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium } from '#test/support/browser';
import { startTestRunner } from '#test/support/runner';
import { type TestVault, startTestVault } from '#test/support/vault';

// Screenshots for docs/console.md: `npm run screenshots` sets this and writes docs/screenshots/*.png.
const SHOTS = process.env.VAULT_SCREENSHOTS ? join(process.cwd(), 'docs', 'screenshots') : undefined;
const CANARY = 'canary-pw-7f3a9c1e';
const BEARER_CANARY = 'canary-bearer-51d0e2b7';

if (!hasChromium()) console.warn('console e2e skipped: /usr/bin/chromium is missing (apt-get install -y chromium; .ci/run does it)');

describe.skipIf(!hasChromium())('browser console (headless Chromium)', () => {
  let vault: TestVault;
  let runner: Awaited<ReturnType<typeof startTestRunner>>;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const urls: string[] = [];
  const cspErrors: string[] = [];
  const pageErrors: string[] = [];

  const shot = async (name: string) => {
    if (SHOTS) await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  };

  beforeAll(async () => {
    if (SHOTS) mkdirSync(SHOTS, { recursive: true });
    vault = await startTestVault();
    runner = await startTestRunner((call) => ({
      body: { output: { received_fields: Object.keys(call.body.parameters).sort(), session_runs: 1 } },
    }));
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.on('framenavigated', (f) => urls.push(f.url()));
    page.on('request', (r) => urls.push(r.url()));
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy|Trusted Type/i.test(m.text())) cspErrors.push(m.text());
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });

  afterAll(async () => {
    await browser?.close();
    await runner?.close();
    await vault?.close();
  });

  it('serves /console with a strict CSP, no framing, nosniff and no referrer', async () => {
    const res = await page.goto(`${vault.url}/console`);

    expect(page.url()).toBe(`${vault.url}/console/#/sign-in`);
    const h = res?.headers() ?? {};
    expect(h['content-security-policy']).toContain("default-src 'self'");
    expect(h['content-security-policy']).toContain("script-src 'self';");
    expect(h['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(h['content-security-policy']).not.toContain('unsafe-inline');
    expect(h['x-frame-options']).toBe('DENY');
    expect(h['x-content-type-options']).toBe('nosniff');
    expect(h['referrer-policy']).toBe('no-referrer');
    const js = await vault.call('GET', '/console/app.js', undefined, { apiKey: null });
    expect(js.headers.get('content-type')).toContain('text/javascript');
    expect(js.headers.get('x-frame-options')).toBe('DENY');
  });

  it('enforces the policy in the browser: no inline script or style, no markup from strings', async () => {
    const inline = await page.addScriptTag({ content: 'window.__inlineRan = true' }).then(
      () => 'added',
      () => 'refused',
    );
    // A string, run in the page: this file is type-checked without the DOM library.
    const result = await page.evaluate(`(() => {
      const probe = document.createElement('div');
      probe.setAttribute('style', 'display: none');
      document.body.append(probe);
      let html = 'parsed';
      try {
        document.body.insertAdjacentHTML('beforeend', '<b>x</b>');
      } catch {
        html = 'refused';
      }
      const out = { ran: window.__inlineRan === true, style: getComputedStyle(probe).display, html };
      probe.remove();
      return out;
    })()`);

    expect({ inline, ...(result as object) }).toEqual({ inline: expect.any(String), ran: false, style: 'block', html: 'refused' });
    cspErrors.length = 0; // those violations were provoked on purpose
  });

  it('refuses a wrong API key with the vault message and stays signed out', async () => {
    await page.getByTestId('api-key').fill(`avk_${'A'.repeat(43)}`);
    await page.getByRole('button', { name: 'Sign in' }).click();

    await expect.poll(() => page.locator('.notice-error').textContent()).toMatch(/API key/i);
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
  });

  it('signs in with the API key, kept in sessionStorage only', async () => {
    await shot('sign-in');
    await page.getByTestId('api-key').fill(vault.apiKey);
    await page.getByRole('button', { name: 'Sign in' }).click();

    await page.waitForURL(/#\/agents$/);
    await page.getByRole('heading', { name: 'Agents' }).waitFor();
    expect(await page.evaluate('({ local: localStorage.length, session: Object.values(sessionStorage) })')).toEqual({ local: 0, session: [vault.apiKey] });
  });

  it('registers an agent and shows its signing secret once', async () => {
    await page.getByTestId('agent-id').fill('crm-bot');
    await page.getByTestId('agent-name').fill('CRM bot');
    await page.locator('[data-arg="name"]').first().fill('username');
    await page.getByRole('button', { name: 'Add argument' }).click();
    await page.locator('[data-arg="name"]').nth(1).fill('query');
    await page.locator('[data-arg="secret"]').nth(1).uncheck();
    await page.getByTestId('runner-url').fill(runner.url);
    await page.getByTestId('register-agent').click();

    await page.getByTestId('signing-secret-toggle').click();
    const secret = await page.getByTestId('signing-secret').textContent();
    expect(secret?.length).toBeGreaterThan(20);
    await page.getByRole('button', { name: 'I have saved it' }).click();
    await page.waitForURL(/#\/agents\/crm-bot$/);
    expect(await page.content()).not.toContain(secret);
    const agent = await vault.call('GET', '/v1/agents/crm-bot');
    expect(agent.json.input_args.map((a: { name: string }) => a.name)).toEqual(['username', 'query']);
  });

  it('keeps a proxy agent proxy through Edit → Save, and shows the delivery', async () => {
    const body = (await vault.call('GET', '/v1/agents/crm-bot')).json;
    const { agent_id: _id, created_at: _c, updated_at: _u, owner: _o, ...definition } = body;
    expect((await vault.call('PUT', '/v1/agents/crm-bot', { ...definition, credential_delivery: 'proxy' })).status).toBe(200);
    await page.reload();
    await page.getByRole('button', { name: 'Edit' }).click();
    expect(await page.getByTestId('credential-delivery').inputValue()).toBe('proxy');
    await page.getByTestId('agent-name').fill('CRM bot (edited)');
    await page.getByTestId('save-agent').click();
    await page.getByText('Agent saved.').waitFor();
    const saved = await vault.call('GET', '/v1/agents/crm-bot');
    expect(saved.json).toMatchObject({ name: 'CRM bot (edited)', credential_delivery: 'proxy' });
    expect(await page.content()).toContain('proxy (run grant');
    // Back to parameters for the runs below (the profile is created after this, so it approves it).
    expect((await vault.call('PUT', '/v1/agents/crm-bot', { ...definition, credential_delivery: 'parameters' })).status).toBe(200);
    await page.reload();
  });

  let token = '';

  it('creates a profile and shows its token once, with a copy button and a warning', async () => {
    await page.getByTestId('new-profile').click();
    await page.getByTestId('profile-name').fill('alice');
    const username = page.locator('[data-field="username"]');
    expect(await username.getAttribute('type')).toBe('password');
    await username.fill(CANARY);
    await page.getByTestId('create-profile').click();

    await page.getByTestId('auth-token-toggle').click();
    token = (await page.getByTestId('auth-token').textContent()) ?? '';
    expect(token).toMatch(/^avt_[A-Za-z0-9_-]+$/);
    expect(await page.getByText('shown once').count()).toBeGreaterThan(0);
    expect(await page.getByRole('button', { name: 'Copy token' }).count()).toBe(1);
    expect(await page.content()).not.toContain(CANARY);
    await shot('new-profile-token');
  });

  it('starts a run with the new token and shows its status and output', async () => {
    await page.getByTestId('run-with-token').click();
    await page.waitForURL(/#\/agents\/crm-bot\/run$/);
    expect(await page.getByTestId('run-token').inputValue()).toBe(token);
    expect(await page.content()).not.toContain(token);
    await page.getByTestId('run-parameters').fill('{"query": "open deals"}');
    await page.getByTestId('run-wait').check();
    await shot('run-form');
    await page.getByTestId('start-run').click();

    await page.waitForURL(/#\/runs\/[^/]+$/);
    await expect.poll(() => page.locator('[data-badge]').first().textContent(), { timeout: 10_000 }).toBe('succeeded');
    expect(JSON.parse((await page.getByTestId('run-output').textContent()) ?? '')).toEqual({ received_fields: ['query', 'username'], session_runs: 1 });
    expect(runner.calls.at(-1)?.body.parameters.username).toBe(CANARY);
    await shot('run');
  });

  it("lists the profile on its agent's page, used once", async () => {
    await page.goto(`${vault.url}/console/#/agents/crm-bot`);

    const row = page.getByTestId('profiles-table').locator('tbody tr');
    await expect.poll(() => row.count()).toBe(1);
    const cells = await row.locator('td').allTextContents();
    expect(cells[0]).toBe('alice');
    expect(cells).toContain('username');
    expect(cells).toContain('1'); // Uses
    expect(cells).not.toContain('never'); // Last used
    const headers = await page.getByTestId('profiles-table').locator('th').allTextContents();
    expect(headers).toEqual(expect.arrayContaining(['Name', 'Last used']));
    await shot('agent');
  });

  it("opens the profile's page with its metadata, never a value", async () => {
    await page.getByTestId('profile-link').click();

    await page.waitForURL(/#\/agents\/crm-bot\/profiles\/alice$/);
    await page.getByRole('heading', { name: 'Profile alice' }).waitFor();
    const text = (await page.locator('main').textContent()) ?? '';
    expect(text).toContain('username');
    expect(text).not.toContain(CANARY);
    expect(text).not.toContain(token);
    await shot('profile');
  });

  it('deletes the profile after a confirmation, and a second one as it is in use; its token dies at once', async () => {
    await page.getByTestId('delete-profile').click();
    expect((await vault.call('GET', '/v1/agents/crm-bot/auth-profiles/alice')).status).toBe(200); // the dialog only asks
    await page.getByTestId('delete-confirm').click();
    // It ran a moment ago: the vault answers 409 profile_in_use, and the dialog offers the forced delete.
    await page.getByText(/This profile is in use/).waitFor();
    expect((await vault.call('GET', '/v1/agents/crm-bot/auth-profiles/alice')).status).toBe(200);
    await page.getByTestId('delete-anyway').click();

    await page.waitForURL(/#\/agents\/crm-bot$/);
    await page.getByText('No profiles for this agent yet.').waitFor();
    expect((await vault.call('GET', '/v1/agents/crm-bot/auth-profiles/alice')).status).toBe(404);
    const run = await vault.call('POST', '/run_agent', { agent_id: 'crm-bot', auth_token: token, run_async: false });
    expect(run.status).toBe(404);
  });

  let svcToken = '';
  let rotatedToken = '';

  it('creates a bearer profile with the fields of its type', async () => {
    await page.goto(`${vault.url}/console/#/agents/crm-bot/profiles/new`);
    await page.getByTestId('profile-name').fill('svc');
    await page.getByTestId('auth-type').selectOption('bearer');
    expect(await page.locator('[data-field]').evaluateAll((els) => els.map((e) => e.getAttribute('data-field')))).toEqual(['token']);
    await page.locator('[data-field="token"]').fill(BEARER_CANARY);
    await page.getByTestId('create-profile').click();

    await page.getByTestId('auth-token-toggle').click();
    svcToken = (await page.getByTestId('auth-token').textContent()) ?? '';
    expect(svcToken).toMatch(/^avt_/);
    await page.getByRole('button', { name: 'I have saved it' }).click();
    await page.waitForURL(/#\/agents\/crm-bot\/profiles\/svc$/);
    await page.getByRole('heading', { name: 'Profile svc' }).waitFor();
    const text = (await page.locator('main').textContent()) ?? '';
    expect(text).toContain('Bearer Token');
    expect(text).not.toContain(BEARER_CANARY);
    const stored = await vault.call('GET', '/v1/agents/crm-bot/auth-profiles/svc');
    expect(stored.json).toMatchObject({ auth_type: 'bearer', fields: ['token'] });
    await page.goto(`${vault.url}/console/#/agents/crm-bot`);
    await expect.poll(() => page.getByTestId('profiles-table').locator('tbody tr td').allTextContents()).toEqual(expect.arrayContaining(['svc', 'Bearer Token']));
  });

  it('lists the bearer profile with its Token state and Active badges', async () => {
    const headers = await page.getByTestId('profiles-table').locator('th').allTextContents();
    expect(headers).toEqual(expect.arrayContaining(['Type', 'Token state', 'Active']));
    const svcRow = page.getByTestId('profiles-table').locator('tbody tr', { hasText: 'svc' });
    expect(await svcRow.locator('[data-badge]').allTextContents()).toEqual(['valid', 'active']);
  });

  it('deactivates the profile: a use is refused with 403 profile_inactive, in the Test form and over the API', async () => {
    await page.goto(`${vault.url}/console/#/agents/crm-bot/profiles/svc`);
    await page.getByTestId('toggle-active').click();
    await page.getByRole('heading', { name: 'Inactive' }).waitFor();
    expect((await vault.call('GET', '/v1/agents/crm-bot/auth-profiles/svc')).json.active).toBe(false);

    await page.getByTestId('test-token').fill(svcToken);
    await page.getByTestId('test-url').fill('https://api.example.com/v1/me');
    await page.getByTestId('test-profile').click();
    await expect.poll(() => page.locator('.notice-error').first().textContent()).toContain('403 profile_inactive');
    expect(await page.getByTestId('test-token').inputValue()).toBe(''); // not kept in the page
    const run = await vault.call('POST', '/run_agent', { agent_id: 'crm-bot', auth_token: svcToken, run_async: false });
    expect(run.status).toBe(403);
    expect(run.json.error.code).toBe('profile_inactive');
    await shot('profile-inactive');
  });

  it('activates it again and rotates its token, shown once; the old token dies', async () => {
    await page.getByTestId('toggle-active').click();
    await page.getByRole('heading', { name: 'Active', exact: true }).waitFor();
    expect((await vault.call('GET', '/v1/agents/crm-bot/auth-profiles/svc')).json.active).toBe(true);

    await page.getByTestId('rotate-token').fill(svcToken);
    await page.getByTestId('rotate-hours').fill('48');
    await page.getByTestId('rotate-profile').click();
    await page.getByTestId('auth-token-toggle').click();
    rotatedToken = (await page.getByTestId('auth-token').textContent()) ?? '';
    expect(rotatedToken).toMatch(/^avt_/);
    expect(rotatedToken).not.toBe(svcToken);
    await shot('profile-rotated');
    await page.getByRole('button', { name: 'I have saved it' }).click();
    await page.getByRole('heading', { name: 'Usage' }).waitFor();
    expect(await page.content()).not.toContain(rotatedToken);
    const meta = await vault.call('GET', '/v1/agents/crm-bot/auth-profiles/svc');
    expect(meta.json).toMatchObject({ generation: 2, token_state: 'valid', token_expires_at: expect.any(String) });
    const old = await vault.call('POST', '/run_agent', { agent_id: 'crm-bot', auth_token: svcToken, run_async: false });
    expect(old.status).toBe(404); // a dead token looks like an unknown one
  });

  it('shows the usage of the profile and refuses its delete while in use, then forces it', async () => {
    const run = await vault.call('POST', '/run_agent', { agent_id: 'crm-bot', auth_token: rotatedToken, run_async: false });
    expect(run.status).toBe(200);
    await page.goto(`${vault.url}/console/#/agents/crm-bot/profiles/svc`);
    await expect.poll(() => page.getByTestId('usage-table').locator('tbody tr td:nth-child(2)').allTextContents()).toContain('run');
    await shot('profile-actions');

    await page.getByTestId('delete-profile').click();
    await page.getByTestId('delete-confirm').click();
    await page.getByText(/This profile is in use/).waitFor();
    expect((await vault.call('GET', '/v1/agents/crm-bot/auth-profiles/svc')).status).toBe(200);
    await page.getByTestId('delete-anyway').click();
    await page.waitForURL(/#\/agents\/crm-bot$/);
    expect((await vault.call('GET', '/v1/agents/crm-bot/auth-profiles/svc')).status).toBe(404);
  });

  it('shows the audit log, filtered by agent, profile and action, a page at a time', async () => {
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.waitForURL(/#\/audit$/);
    await page.getByTestId('audit-table').waitFor();
    await page.getByTestId('audit-agent').fill('crm-bot');
    await page.getByTestId('audit-profile').fill('svc');
    await page.getByTestId('audit-filter').click();
    const actions = () => page.getByTestId('audit-table').locator('tbody tr td:nth-child(2)').allTextContents();
    await expect.poll(actions).toEqual(expect.arrayContaining(['create', 'patch', 'rotate', 'run', 'delete']));
    const results = await page.getByTestId('audit-table').locator('tbody tr td:nth-child(7)').allTextContents();
    expect(results).toContain('profile_inactive'); // the refused uses are there too
    expect(new Set(await page.getByTestId('audit-table').locator('tbody tr td:nth-child(4)').allTextContents())).toEqual(new Set(['svc']));
    await shot('audit');

    await page.getByTestId('audit-action').selectOption('rotate');
    await page.getByTestId('audit-filter').click();
    await expect.poll(actions).toEqual(['rotate']);
    // A profile without its agent: the vault filters by profile within an agent only, so the
    // profile input waits for one (console-manage.e2e.test.ts checks no error follows).
    await page.getByTestId('audit-agent').fill('');
    expect(await page.getByTestId('audit-profile').isDisabled()).toBe(true);
  });

  it('pages through the audit log with the cursor', async () => {
    await page.getByTestId('audit-action').selectOption('');
    await page.getByTestId('audit-filter').click();
    const all = await vault.call('GET', '/v1/audit?limit=100');
    const total = all.json.records.length as number;
    if (total <= 50) {
      // Make more than a page of records: each change of a profile is audited.
      await vault.call('POST', '/v1/agents/crm-bot/auth-profiles', { name: 'paging', auth_type: 'bearer', auth_data: { token: 'x' } });
      for (let i = 0; i < 51 - total; i++) expect((await vault.call('PATCH', '/v1/agents/crm-bot/auth-profiles/paging', { description: `n${i}` })).status).toBe(200);
      await page.getByTestId('audit-filter').click();
    }
    const rows = page.getByTestId('audit-table').locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(50);
    await page.getByTestId('audit-more').click();
    await expect.poll(() => page.locator('[data-testid="audit-table"] tbody tr').count()).toBeGreaterThan(50);
  });

  it('shows the agents list', async () => {
    await page.goto(`${vault.url}/console/#/agents`);

    await expect.poll(() => page.getByTestId('agents-table').locator('tbody tr').count()).toBe(1);
    await shot('agents');
  });

  it('never put the API key or a token in a URL or localStorage, and broke no policy', async () => {
    expect(urls.length).toBeGreaterThan(5);
    for (const u of urls) {
      expect(u).not.toContain(vault.apiKey);
      expect(u).not.toContain(token);
      expect(u).not.toContain(CANARY);
      expect(u).not.toContain(BEARER_CANARY);
      expect(u).not.toContain(svcToken);
      expect(u).not.toContain(rotatedToken);
    }
    expect(await page.evaluate('localStorage.length')).toBe(0);
    expect(cspErrors).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('signs out: the key leaves sessionStorage and pages need signing in again', async () => {
    await page.getByTestId('sign-out').click();

    await page.waitForURL(/#\/sign-in$/);
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await page.goto(`${vault.url}/console/#/agents`);
    await page.waitForURL(/#\/sign-in$/);
  });
});
