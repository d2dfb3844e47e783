import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium } from '#test/support/browser';
import { type TestVault, startTestVault } from '#test/support/vault';

// Screenshots for docs/console.md: `npm run screenshots` sets this and writes docs/screenshots/*.png.
const SHOTS = process.env.VAULT_SCREENSHOTS ? join(process.cwd(), 'docs', 'screenshots') : undefined;

if (!hasChromium()) console.warn('console access e2e skipped: /usr/bin/chromium is missing (apt-get install -y chromium; .ci/run does it)');

/**
 * The console's access pages in a real Chromium: API keys (admin only) and, on the profile page,
 * sharing. One browser for the file; an admin and a member each get their own context (their own
 * sessionStorage), as two people in two browsers would.
 */
describe.skipIf(!hasChromium())('browser console: API keys and sharing (headless Chromium)', () => {
  let vault: TestVault;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let admin: Page;
  let member: Page;
  const urls: string[] = [];
  const problems: string[] = [];

  const open = async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    contexts.push(context);
    const page = await context.newPage();
    page.on('framenavigated', (f) => urls.push(f.url()));
    page.on('request', (r) => urls.push(r.url()));
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy|Trusted Type/i.test(m.text())) problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    return page;
  };
  const signIn = async (page: Page, key: string) => {
    await page.goto(`${vault.url}/console/#/sign-in`);
    await page.getByTestId('api-key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // To the agents, or back to the page the console was signed out of (it keeps that address).
    await page.waitForURL((url) => !url.hash.endsWith('/sign-in'));
  };
  const shot = async (page: Page, name: string) => {
    if (SHOTS) await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  };
  const keyIds = async () => ((await vault.call('GET', '/v1/api-keys')).json.api_keys as { key_id: string; name: string; role: string }[]);

  beforeAll(async () => {
    if (SHOTS) mkdirSync(SHOTS, { recursive: true });
    vault = await startTestVault();
    browser = await launchChromium();
    admin = await open();
    member = await open();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await vault?.close();
  });

  let memberKey = '';
  let memberKeyId = '';

  it('lists the tenant keys for an admin, marking the one the console is signed in with', async () => {
    await signIn(admin, vault.apiKey);
    await admin.getByRole('link', { name: 'API keys' }).click();
    await admin.waitForURL(/#\/api-keys$/);

    const table = admin.getByTestId('api-keys-table');
    await table.waitFor();
    expect(await table.locator('th').allTextContents()).toEqual(['Name', 'Role', 'Key id', 'Created', '']);
    const bootstrap = (await keyIds()).find((k) => k.name === 'bootstrap key');
    const row = table.locator('tbody tr', { hasText: bootstrap?.key_id ?? '?' });
    expect(await row.locator('[data-badge]').allTextContents()).toEqual(['this console', 'admin']);
    expect(await admin.content()).not.toContain(vault.apiKey);
  });

  it('refuses a blank name with the vault message and creates nothing', async () => {
    const before = (await keyIds()).length;
    await admin.getByTestId('key-name').fill('   ');
    await admin.getByTestId('create-key').click();

    await expect.poll(() => admin.locator('.notice-error').textContent()).toContain('name must not be empty');
    expect((await keyIds()).length).toBe(before);
  });

  it('creates a member key and shows it once, with Copy and a warning; dismissed, it is gone from the page', async () => {
    await admin.getByTestId('key-name').fill('ci member');
    await admin.getByTestId('key-role').selectOption('member');
    await admin.getByTestId('create-key').click();

    await admin.getByTestId('new-api-key-toggle').click();
    memberKey = (await admin.getByTestId('new-api-key').textContent()) ?? '';
    expect(memberKey).toMatch(/^avk_[A-Za-z0-9_-]{43}$/);
    const panel = admin.locator('section.once');
    expect(await panel.textContent()).toContain('shown once');
    expect(await panel.getByRole('button', { name: 'Copy key' }).count()).toBe(1);
    expect(await panel.getByRole('button', { name: 'Copy Authorization header' }).count()).toBe(1);
    const listed = (await keyIds()).find((k) => k.name === 'ci member');
    expect(listed?.role).toBe('member');
    memberKeyId = listed?.key_id ?? '';
    // The new key is in the table at once, without its secret.
    await expect.poll(() => admin.getByTestId('api-keys-table').locator('tbody tr', { hasText: memberKeyId }).count()).toBe(1);
    await shot(admin, 'api-keys');

    await admin.getByRole('button', { name: 'I have saved it' }).click();
    await expect.poll(() => admin.locator('section.once').count()).toBe(0);
    expect(await admin.content()).not.toContain(memberKey);
    expect(await admin.getByTestId('key-name').inputValue()).toBe('');
  });

  it('shows a member signed in with it that API keys are for admins only', async () => {
    await signIn(member, memberKey);
    await member.getByRole('link', { name: 'API keys' }).click();

    const panel = member.getByTestId('admin-only');
    await panel.waitFor();
    const text = (await panel.textContent()) ?? '';
    expect(text).toContain('Only admin API keys');
    expect(text).toContain(memberKeyId);
    expect(text).toContain('needs an admin API key'); // the vault's own 403 message
    expect(await member.getByTestId('api-keys-table').count()).toBe(0);
    expect(await member.getByTestId('create-key').count()).toBe(0);
    await shot(member, 'api-keys-member');
  });

  it('revokes the member key after a confirmation; the vault refuses it at once', async () => {
    await admin.getByTestId(`revoke-${memberKeyId}`).click();
    expect((await keyIds()).some((k) => k.key_id === memberKeyId)).toBe(true); // one click only arms it
    await admin.getByTestId(`revoke-${memberKeyId}`).click();

    await expect.poll(() => admin.getByTestId('api-keys-table').locator('tbody tr', { hasText: memberKeyId }).count()).toBe(0);
    expect(await admin.locator('.notice-info').textContent()).toContain('revoked');
    expect((await keyIds()).some((k) => k.key_id === memberKeyId)).toBe(false);
    expect((await vault.call('GET', '/v1/agents', undefined, { apiKey: memberKey })).status).toBe(401);
  });

  it("signs the member's console out on its next request, saying why", async () => {
    await member.getByRole('link', { name: 'Agents' }).click();

    await member.waitForURL(/#\/sign-in$/);
    const text = (await member.locator('.notice-error').textContent()) ?? '';
    expect(text).toContain('Signed out: the vault no longer accepts this API key.');
    expect(text).toContain('revoked');
    expect(await member.evaluate('sessionStorage.length')).toBe(0);
    await member.goto(`${vault.url}/console/#/api-keys`);
    await member.waitForURL(/#\/sign-in$/);
  });

  // Sharing: a bearer profile of the bootstrap admin, shared read-only with a member key.
  const AGENT = 'crm-bot';
  const PROFILE = 'svc';
  const PROFILE_URL = `/v1/agents/${AGENT}/auth-profiles/${PROFILE}`;
  let bob = { api_key: '', key_id: '' };
  let svcToken = '';
  const adminProfilePage = async () => {
    await admin.goto(`${vault.url}/console/#/agents/${AGENT}/profiles/${PROFILE}`);
    await admin.getByTestId('access').waitFor();
  };

  it("shows a profile's owner and visibility, and shares it read-only with a member key picked from the list", async () => {
    const agent = await vault.call('POST', '/v1/agents', { agent_id: AGENT, name: 'CRM bot', input_args: [{ name: 'query' }], runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' } });
    expect(agent.status).toBe(201);
    const created = await vault.call('POST', `/v1/agents/${AGENT}/auth-profiles`, { name: PROFILE, auth_type: 'bearer', auth_data: { token: 'canary-share-3b1f' } });
    expect(created.status).toBe(201);
    svcToken = created.json.auth_token;
    const minted = await vault.call('POST', '/v1/api-keys', { name: 'bob', role: 'member' });
    expect(minted.status).toBe(201);
    bob = minted.json;
    const bootstrap = (await keyIds()).find((k) => k.name === 'bootstrap key');

    await adminProfilePage();
    const access = admin.getByTestId('access');
    const owner = (await access.locator('dd').first().textContent()) ?? '';
    expect(owner).toContain(`bootstrap key (admin) ${bootstrap?.key_id}`);
    expect(owner).toContain('you');
    expect(await admin.getByTestId('your-access').textContent()).toBe('Read·Write (admin)');
    expect(await admin.getByTestId('visibility').textContent()).toContain('private');
    expect(await access.textContent()).toContain('Not shared');

    await admin.getByTestId('share-principal').selectOption(bob.key_id);
    await admin.getByTestId('share-permission').selectOption('read');
    await admin.getByTestId('share-profile').click();

    const row = admin.getByTestId('grants-table').locator('tbody tr');
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.locator('td').allTextContents()).toEqual([`bob (member) ${bob.key_id}`, 'Read', 'Remove']);
    expect(await admin.getByTestId('visibility').textContent()).toContain('shared');
    expect((await vault.call('GET', PROFILE_URL)).json).toMatchObject({ visibility: 'shared', grants: [{ principal: bob.key_id, permission: 'read' }] });
    await shot(admin, 'profile-share');
  });

  it('lets the member see the shared profile, with its write controls disabled and the reason shown', async () => {
    await signIn(member, bob.api_key);
    await member.goto(`${vault.url}/console/#/agents/${AGENT}`);
    await expect.poll(() => member.getByTestId('profiles-table').locator('tbody tr td').first().textContent()).toBe(PROFILE);
    await member.getByTestId('profile-link').click();
    await member.getByRole('heading', { name: `Profile ${PROFILE}` }).waitFor();
    // A member's console has no key listing: principals show as key ids, and it says why.
    expect(await member.getByTestId('access').textContent()).toContain('The key listing is for admins');
    expect(await member.getByTestId('your-access').textContent()).toBe('Read (shared)');

    // Read only: every write control is disabled with the reason (console-manage.e2e.test.ts
    // checks no write request leaves); its Share form still hides the key-id input until picked.
    expect(await member.getByTestId('read-only').textContent()).toContain('needs Read·Write');
    for (const id of ['rotate-profile', 'delete-profile', 'share-profile', 'toggle-active', 'save-settings']) expect(await member.getByTestId(id).isDisabled()).toBe(true);
    expect(await member.getByTestId('share-key-id').isVisible()).toBe(false);

    const after = await vault.call('GET', PROFILE_URL);
    expect(after.status).toBe(200);
    expect(after.json.generation).toBe(1); // not rotated
    const run = await vault.call('POST', '/run_agent', { agent_id: AGENT, auth_token: svcToken, run_async: false }, { apiKey: bob.api_key });
    // Read is enough to use it (the refusals were the writes only): the vault went as far as the runner.
    expect(run.status).toBe(200);
    expect(run.json.error_message).toContain('runner could not be reached');
  });

  it('shows a share that lost a race as "changed by someone else", with a Reload', async () => {
    await adminProfilePage();
    // The vault answers a share that lost its conditional write with 409 conflict; which request
    // wins a real race is timing, so this one answer is the vault's own body, served once.
    await admin.route(`**${PROFILE_URL}/share`, (route) =>
      route.fulfill({
        status: 409,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'conflict', message: `Auth profile "${PROFILE}" was changed by another request while its grants were being changed; read it again and retry` } }),
      }),
      { times: 1 },
    );
    await admin.getByTestId('share-principal').selectOption('role:member');
    await admin.getByTestId('share-profile').click();

    await expect.poll(() => admin.getByTestId('access').locator('.notice-error').textContent()).toContain('Changed by someone else since this page was loaded: reload it');
    const reload = admin.getByTestId('access-reload');
    expect(await reload.isVisible()).toBe(true);
    await reload.click();
    await expect.poll(() => admin.getByTestId('access').locator('.notice-error').count()).toBe(0);
    expect((await vault.call('GET', PROFILE_URL)).json.grants).toEqual([{ principal: bob.key_id, permission: 'read' }]);
  });

  it("removes the grant after a confirmation; the profile is gone from the member's list", async () => {
    await admin.getByTestId(`unshare-${bob.key_id}`).click();
    expect((await vault.call('GET', PROFILE_URL)).json.grants).toHaveLength(1); // one click only arms it
    await admin.getByTestId(`unshare-${bob.key_id}`).click();

    await expect.poll(() => admin.getByTestId('access').textContent()).toContain('Not shared');
    expect(await admin.getByTestId('visibility').textContent()).toContain('private');
    expect((await vault.call('GET', PROFILE_URL)).json).toMatchObject({ visibility: 'private', grants: [] });
    await member.goto(`${vault.url}/console/#/agents/${AGENT}`);
    await member.getByText('No profiles for this agent yet.').waitFor();
    await member.goto(`${vault.url}/console/#/agents/${AGENT}/profiles/${PROFILE}`);
    await expect.poll(() => member.getByTestId('error').textContent()).toContain('404 profile_not_found');
  });

  it('never put a key or token in a URL or localStorage, and broke no policy', async () => {
    expect(urls.length).toBeGreaterThan(5);
    for (const u of urls) {
      expect(u).not.toContain(vault.apiKey);
      expect(u).not.toContain(memberKey);
      expect(u).not.toContain(bob.api_key);
      expect(u).not.toContain(svcToken);
    }
    expect(await admin.evaluate('localStorage.length')).toBe(0);
    expect(problems).toEqual([]);
  });
});
