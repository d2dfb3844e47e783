import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium } from '#test/support/browser';
import { startTestRunner } from '#test/support/runner';
import { type TestVault, startTestVault } from '#test/support/vault';

// Screenshots for docs/console.md: `npm run screenshots` sets this and writes docs/screenshots/*.png.
const SHOTS = process.env.VAULT_SCREENSHOTS ? join(process.cwd(), 'docs', 'screenshots') : undefined;

if (!hasChromium()) console.warn('console search e2e skipped: /usr/bin/chromium is missing (apt-get install -y chromium; .ci/run does it)');

/**
 * The profile lists' search box and filters, on an agent's page and on the tenant-wide Profiles
 * page (issue 20, item 9). The vault does the filtering and the name order
 * (`GET /v1/agents/{agent_id}/auth-profiles?q=&auth_type=&visibility=&token_state=&active=` and
 * `GET /v1/auth-profiles?…&agent_id=`); the console sends only the filters that are set and sorts
 * the loaded rows by last use when asked.
 */
describe.skipIf(!hasChromium())('browser console: searching profiles (headless Chromium)', () => {
  let vault: TestVault;
  let runner: Awaited<ReturnType<typeof startTestRunner>>;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const lists: string[] = [];

  const names = () => page.getByTestId('profiles-table').locator('tbody tr td:first-child').allTextContents();
  const create = async (agent: string, body: Record<string, unknown>) => {
    const res = await vault.call('POST', `/v1/agents/${agent}/auth-profiles`, body);
    expect(res.status, res.text).toBe(201);
    return res.json.auth_token as string;
  };

  beforeAll(async () => {
    vault = await startTestVault();
    runner = await startTestRunner(() => ({ body: { output: { ok: true } } }));
    for (const id of ['alpha', 'beta']) {
      const res = await vault.call('POST', '/v1/agents', { agent_id: id, name: id, input_args: [{ name: 'query' }], runner: { type: 'webhook', url: runner.url } });
      expect(res.status).toBe(201);
    }
    await create('alpha', { name: 'crm-bearer', auth_type: 'bearer', auth_data: { token: 't' } });
    await create('alpha', { name: 'crm-basic', auth_type: 'basic', auth_data: { username: 'u', password: 'p' } });
    await create('alpha', { name: 'zeta-key', auth_type: 'api_key', auth_config: { api_key_method: 'header' }, auth_data: { 'X-Api-Key': 'k' } });
    await create('beta', { name: 'beta-bearer', auth_type: 'bearer', auth_data: { token: 't' } });
    const custom = await create('beta', { name: 'crm-custom', auth_data: { query: 'q' } });
    expect((await vault.call('PATCH', '/v1/agents/alpha/auth-profiles/crm-basic', { active: false })).status).toBe(200);
    expect((await vault.call('POST', '/run_agent', { agent_id: 'beta', auth_token: custom, run_async: false })).status).toBe(200);

    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('request', (r) => {
      if (r.url().includes('auth-profiles?')) lists.push(decodeURIComponent(new URL(r.url()).search));
    });
    await page.goto(`${vault.url}/console/#/sign-in`);
    await page.getByTestId('api-key').fill(vault.apiKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/#\/agents$/);
  });

  afterAll(async () => {
    await browser?.close();
    await runner?.close();
    await vault?.close();
  });

  it("searches an agent's profiles by name and filters them by type and state, in name order", async () => {
    await page.goto(`${vault.url}/console/#/agents/alpha`);
    await expect.poll(names).toEqual(['crm-basic', 'crm-bearer', 'zeta-key']);

    await page.getByTestId('profile-search').fill('CRM');
    await expect.poll(names).toEqual(['crm-basic', 'crm-bearer']);
    expect(lists.at(-1)).toContain('q=CRM');

    await page.getByTestId('filter-auth_type').selectOption('bearer');
    await expect.poll(names).toEqual(['crm-bearer']);
    expect(lists.at(-1)).toMatch(/q=CRM.*auth_type=bearer|auth_type=bearer.*q=CRM/);

    await page.getByTestId('filter-auth_type').selectOption('');
    await page.getByTestId('filter-active').selectOption('false');
    await expect.poll(names).toEqual(['crm-basic']);

    await page.getByTestId('profile-search').fill('nothing-like-it');
    await page.getByText('No profiles match.').waitFor();
  });

  it('lists every profile of the tenant on the Profiles page, with its agent, by name', async () => {
    await page.getByRole('link', { name: 'Profiles' }).click();
    await page.waitForURL(/#\/profiles$/);
    await expect.poll(names).toEqual(['beta-bearer', 'crm-basic', 'crm-bearer', 'crm-custom', 'zeta-key']);
    const agents = await page.getByTestId('profiles-table').locator('tbody tr td:nth-child(2)').allTextContents();
    expect(agents).toEqual(['beta', 'alpha', 'alpha', 'beta', 'alpha']);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'profiles.png'), fullPage: true });
    expect(lists.at(-1)).toBe('?limit=50');

    await page.getByTestId('profile-search').fill('crm');
    await expect.poll(names).toEqual(['crm-basic', 'crm-bearer', 'crm-custom']);
    await page.getByTestId('filter-agent').fill('beta');
    await expect.poll(names).toEqual(['crm-custom']);
    expect(lists.at(-1)).toContain('agent_id=beta');
  });

  it('sorts the listed profiles by last use', async () => {
    await page.getByTestId('profile-search').fill('');
    await page.getByTestId('filter-agent').fill('');
    await expect.poll(names).toEqual(['beta-bearer', 'crm-basic', 'crm-bearer', 'crm-custom', 'zeta-key']);
    await page.getByTestId('profile-sort').selectOption('last_used');
    expect((await names())[0]).toBe('crm-custom');
    await page.getByTestId('profile-sort').selectOption('name');
    expect((await names())[0]).toBe('beta-bearer');
  });

  it('threw nothing', () => {
    expect(problems).toEqual([]);
  });
});
