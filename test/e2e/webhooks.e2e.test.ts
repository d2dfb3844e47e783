import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature } from '#shared/runs/signature';
import { sleep } from '#shared/sleep';
import { type TestVault, startTestVault } from '#test/support/vault';

/**
 * Tenant webhooks over HTTP against the local server, with a loopback receiver that verifies
 * every signature the way docs/api.md ("Webhooks") tells a platform to: a profile deleted over the
 * API reaches it as `profile.deleted` after two 500s (retried with a short configured backoff), a
 * test event reaches it too, and the delivery log shows the attempts.
 */

interface Seen {
  readonly body: string;
  readonly signatureValid: boolean;
  readonly answered: number;
  readonly headers: Record<string, string | string[] | undefined>;
}

/** Answers the queued statuses in turn, then 200; checks each signature against `secret` when set. */
async function startReceiver() {
  const state = { secret: '', statuses: [] as number[], seen: [] as Seen[] };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const signatureValid = verifySignature(state.secret, body, req.headers['x-agent-vault-signature'] as string | undefined);
      const answered = signatureValid ? (state.statuses.shift() ?? 200) : 401;
      state.seen.push({ body, signatureValid, answered, headers: { ...req.headers } });
      res.writeHead(answered);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, { url: `http://127.0.0.1:${port}/hooks`, close: () => new Promise<void>((r) => server.close(() => r())) });
}

let vault: TestVault;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let webhookId: string;

/** Polls the delivery log until `done` holds (the deliveries run in the background); bounded. */
async function deliveriesUntil(done: (d: Array<Record<string, unknown>>) => boolean): Promise<Array<Record<string, unknown>>> {
  for (let i = 0; i < 600; i++) {
    const res = await vault.call('GET', `/v1/webhooks/${webhookId}/deliveries`);
    expect(res.status, res.text).toBe(200);
    if (done(res.json.deliveries)) return res.json.deliveries;
    await sleep(25);
  }
  throw new Error('the delivery log never reached the expected state');
}

beforeAll(async () => {
  receiver = await startReceiver();
  // Short backoff so that the retries run within the test (production: 2 s locally, Lambda's minutes on AWS).
  vault = await startTestVault({ VAULT_WEBHOOK_RETRY_BASE_MS: '10', VAULT_WEBHOOK_MAX_ATTEMPTS: '4' });
  const agent = await vault.call('POST', '/v1/agents', {
    agent_id: 'hook-bot',
    name: 'Hooks',
    input_args: [{ name: 'password', required: true }],
    runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
  });
  expect(agent.status, agent.text).toBe(201);
});

afterAll(async () => {
  await vault?.close();
  await receiver?.close();
});

describe('webhooks over HTTP', () => {
  it('creates a webhook and answers its signing secret once', async () => {
    const created = await vault.call('POST', '/v1/webhooks', { url: receiver.url, events: ['profile.deleted'], description: 'e2e' });
    expect(created.status, created.text).toBe(201);
    expect(created.json.signing_secret).toMatch(/^avw_/);
    receiver.secret = created.json.signing_secret;
    webhookId = created.json.webhook_id;

    const read = await vault.call('GET', `/v1/webhooks/${webhookId}`);
    expect(read.json).toMatchObject({ webhook_id: webhookId, url: receiver.url, events: ['profile.deleted'], active: true });
    expect(read.text).not.toContain('avw_');
    expect((await vault.call('GET', '/v1/webhooks')).json.webhooks).toHaveLength(1);
  });

  it('delivers profile.deleted after a delete, retrying after 500s, every attempt signed', async () => {
    receiver.statuses = [500, 500];
    const created = await vault.call('POST', '/api/create_agent_auth_profile', {
      agent_id: 'hook-bot',
      name: 'main',
      auth_data: { password: 'pw-never-in-an-event' },
    });
    expect(created.status, created.text).toBe(200);

    const deleted = await vault.call('DELETE', '/v1/agents/hook-bot/auth-profiles/main');
    expect(deleted.status, deleted.text).toBe(204);

    const [d] = await deliveriesUntil((ds) => ds[0]?.status === 'delivered');
    expect(d).toMatchObject({
      event_type: 'profile.deleted',
      status: 'delivered',
      attempts: 3,
      max_attempts: 4,
      last_status_code: 200,
      outcome: 'delivered',
    });
    expect(d).not.toHaveProperty('body');
    expect(receiver.seen.map((s) => [s.answered, s.signatureValid])).toEqual([
      [500, true],
      [500, true],
      [200, true],
    ]);
    const payloads = receiver.seen.map((s) => JSON.parse(s.body));
    expect(new Set(payloads.map((p) => p.id)).size).toBe(1);
    expect(payloads[0]).toMatchObject({ type: 'profile.deleted', agent_id: 'hook-bot', profile: 'main', id: d?.event_id });
    expect(receiver.seen.map((s) => s.headers['x-agent-vault-attempt'])).toEqual(['1', '2', '3']);
    for (const s of receiver.seen) {
      expect(s.body).not.toContain('pw-never-in-an-event');
      expect(s.body).not.toContain('acme'); // tenant-free
    }
  });

  it('sends a test event through the same path', async () => {
    receiver.seen.length = 0;
    const sent = await vault.call('POST', `/v1/webhooks/${webhookId}/test`);
    expect(sent.status, sent.text).toBe(202);

    await deliveriesUntil((ds) => ds.some((x) => x.event_id === sent.json.event_id && x.status === 'delivered'));
    expect(JSON.parse(receiver.seen[0]?.body ?? '{}')).toMatchObject({ id: sent.json.event_id, type: 'webhook.test' });
  });

  it('signs with the rotated secret at once: a receiver still holding the old one refuses', async () => {
    const rotated = await vault.call('POST', `/v1/webhooks/${webhookId}/rotate-secret`);
    expect(rotated.status, rotated.text).toBe(200);
    receiver.seen.length = 0;
    const sent = await vault.call('POST', `/v1/webhooks/${webhookId}/test`);

    const ds = await deliveriesUntil((x) => x.some((y) => y.event_id === sent.json.event_id && y.status !== 'pending'));
    expect(ds.find((y) => y.event_id === sent.json.event_id)).toMatchObject({ status: 'failed', attempts: 4, last_status_code: 401 });
    expect(receiver.seen.every((s) => !s.signatureValid)).toBe(true);
    receiver.secret = rotated.json.signing_secret;
  });

  it('updates and deletes a webhook; a deleted one is a 404', async () => {
    const patched = await vault.call('PATCH', `/v1/webhooks/${webhookId}`, { events: ['profile.deleted', 'connection.needs_reauth'] });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.json.events).toEqual(['profile.deleted', 'connection.needs_reauth']);
    expect((await vault.call('PATCH', `/v1/webhooks/${webhookId}`, { event: ['profile.deleted'] })).json.error.code).toBe('unknown_field');
    expect((await vault.call('POST', '/v1/webhooks', { url: receiver.url, events: ['profile.renamed'] })).status).toBe(400);

    expect((await vault.call('DELETE', `/v1/webhooks/${webhookId}`)).status).toBe(204);
    expect((await vault.call('GET', `/v1/webhooks/${webhookId}`)).json.error.code).toBe('webhook_not_found');
  });

  it('keeps webhooks for admins: a member key is refused', async () => {
    const member = await vault.call('POST', '/v1/api-keys', { name: 'member', role: 'member' });
    expect(member.status, member.text).toBe(201);

    const refused = await vault.call(
      'POST',
      '/v1/webhooks',
      { url: receiver.url, events: ['profile.deleted'] },
      { apiKey: member.json.api_key },
    );
    expect(refused.status).toBe(403);
    expect((await vault.call('GET', '/v1/webhooks', undefined, { apiKey: member.json.api_key })).status).toBe(403);
  });
});

describe('webhook URLs under the runner rules (private hosts off)', () => {
  let strict: TestVault;
  beforeAll(async () => {
    strict = await startTestVault({ VAULT_ALLOW_PRIVATE_WEBHOOKS: 'false' });
  });
  afterAll(async () => {
    await strict?.close();
  });

  it.each([
    'http://127.0.0.1:8080/h',
    'http://localhost/h',
    'http://169.254.169.254/latest/meta-data',
    'http://[::ffff:10.0.0.1]/h',
    'http://192.168.1.10/h',
  ])('refuses %s', async (url) => {
    const res = await strict.call('POST', '/v1/webhooks', { url, events: ['profile.deleted'] });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/loopback, private or link-local/);
  });
});
