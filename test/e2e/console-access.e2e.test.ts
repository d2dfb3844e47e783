import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium } from '#test/support/browser';
import { type TestVault, startTestVault } from '#test/support/vault';

// Screenshots for the README: `npm run screenshots` sets this and writes docs/screenshots/*.png.
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
    await page.waitForURL(/#\/agents$/);
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
    const [bootstrap] = await keyIds();
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

    memberKey = (await admin.getByTestId('new-api-key').textContent()) ?? '';
    expect(memberKey).toMatch(/^avk_[A-Za-z0-9_-]{43}$/);
    const panel = admin.locator('section.once');
    expect(await panel.textContent()).toContain('shown once');
    expect(await panel.getByRole('button', { name: 'Copy' }).count()).toBe(1);
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

  it('never put a key in a URL or localStorage, and broke no policy', async () => {
    expect(urls.length).toBeGreaterThan(5);
    for (const u of urls) {
      expect(u).not.toContain(vault.apiKey);
      expect(u).not.toContain(memberKey);
    }
    expect(await admin.evaluate('localStorage.length')).toBe(0);
    expect(problems).toEqual([]);
  });
});
