import { randomBytes } from 'node:crypto';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '#shared/config';
import type { Caller, Deps } from '#shared/deps';
import { IntegrityError, ValidationError } from '#shared/errors';
import { keys } from '#shared/keys';
import { verifySignature } from '#shared/runs/signature';
import {
  createWebhook,
  deleteWebhook,
  getWebhook,
  listDeliveries,
  listWebhooks,
  rotateWebhookSecret,
  sendTestEvent,
  updateWebhook,
} from '#shared/services/webhooks';
import { queryAudit } from '#shared/audit/log';
import type { WebhookEventType } from '#shared/schemas/webhooks';
import { ATTEMPT_HEADER, attemptDelivery, DELIVERY_HEADER, EVENT_HEADER, EVENT_ID_HEADER } from '#shared/webhooks/deliver';
import type { DeliveryRef, WebhookDispatcher } from '#shared/webhooks/dispatch';
import { publishEvent, webhookEnqueueFailures } from '#shared/webhooks/publish';
import { useTestStore } from '#test/support/dynamo';
import { createAgent, createProfile, deleteAgent, listProfiles } from '#test/support/services';

const TENANT = 'acme';
const ADMIN: Caller = { tenant: TENANT, apiKeyId: '00000000000000aa', role: 'admin' };
const BASE_MS = 1_000;
const MAX_ATTEMPTS = 4;

/** A loopback receiver: answers the queued statuses in turn (then 200) and records what it got. */
interface Receiver {
  readonly url: string;
  /** What it got; `connection`: the index in `connections` of the TCP connection it came over. */
  readonly seen: { headers: IncomingMessage['headers']; body: string; connection: number }[];
  /** Every TCP connection it accepted, in order. */
  readonly connections: Socket[];
  statuses: number[];
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const r = { seen: [] as Receiver['seen'], connections: [] as Socket[], statuses: [] as number[] };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      r.seen.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), connection: r.connections.indexOf(req.socket) });
      res.writeHead(r.statuses.shift() ?? 200, { 'content-type': 'text/plain' });
      res.end('thanks');
    });
  });
  server.on('connection', (socket: Socket) => r.connections.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return Object.assign(r, {
    url: `http://127.0.0.1:${port}/hook`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

/** A dispatcher that only records: the test drives the attempts itself, with its own clock. */
function recordingDispatcher(): WebhookDispatcher & { refs: DeliveryRef[] } {
  const refs: DeliveryRef[] = [];
  return { refs, dispatch: async (ref) => void refs.push(ref) };
}

const t = useTestStore();
let receiver: Receiver;
let clock: Date;
let dispatcher: ReturnType<typeof recordingDispatcher>;
let deps: Deps;

beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver.close();
});

beforeEach(() => {
  clock = new Date('2030-01-01T00:00:00.000Z');
  dispatcher = recordingDispatcher();
  receiver.seen.length = 0;
  receiver.statuses = [];
  deps = {
    ...t.deps,
    config: { ...t.deps.config, webhookRetryBaseMs: BASE_MS, webhookMaxAttempts: MAX_ATTEMPTS, webhookTimeoutMs: 2_000 },
    webhooks: dispatcher,
    now: () => clock,
  };
});

const tenantCaller = (tenant: string): Caller => ({ ...ADMIN, tenant });
let tenantSeq = 0;
/** A fresh tenant per test: its webhooks and deliveries start empty. */
const freshTenant = () => `t${Date.now().toString(36)}${tenantSeq++}`;

async function subscribe(caller: Caller, events: WebhookEventType[] = ['profile.deleted'], url = receiver.url) {
  return createWebhook(deps, caller, { url, events, active: true });
}

const advance = (ms: number) => {
  clock = new Date(clock.getTime() + ms);
};

describe('webhook management', () => {
  it('answers the signing secret once and stores it only sealed', async () => {
    const caller = tenantCaller(freshTenant());
    const created = await subscribe(caller);

    expect(created.signing_secret).toMatch(/^avw_[A-Za-z0-9_-]{43}$/);
    const raw = await t.store.db.doc.send(
      new GetCommand({ TableName: t.store.db.tableName, Key: keys.webhook(caller.tenant, created.webhook_id) }),
    );
    expect(JSON.stringify(raw.Item)).not.toContain(created.signing_secret.slice(4));
    expect(Buffer.from(raw.Item?.signing_secret as Uint8Array).toString('latin1')).not.toContain(created.signing_secret);
    expect(JSON.stringify(await getWebhook(deps, caller, created.webhook_id))).not.toContain('avw_');
    expect(JSON.stringify(await listWebhooks(deps, caller, 10))).not.toContain('avw_');
  });

  it('lists, updates (description null removes it) and deletes, each audited before the change', async () => {
    const caller = tenantCaller(freshTenant());
    const created = await createWebhook(deps, caller, { url: receiver.url, events: ['profile.deleted'], description: 'ops', active: true });

    const updated = await updateWebhook(deps, caller, created.webhook_id, {
      events: ['connection.needs_reauth'],
      description: null,
      active: false,
    });
    expect(updated).toMatchObject({ events: ['connection.needs_reauth'], active: false });
    expect(updated.description).toBeUndefined();
    expect((await listWebhooks(deps, caller, 10)).webhooks.map((w) => w.webhook_id)).toEqual([created.webhook_id]);
    await deleteWebhook(deps, caller, created.webhook_id);
    await expect(getWebhook(deps, caller, created.webhook_id)).rejects.toMatchObject({ status: 404, code: 'webhook_not_found' });

    const audit = await queryAudit(deps, { tenant: caller.tenant, limit: 10 });
    expect(audit.records.map((r) => [r.action, r.principal])).toEqual([
      ['webhook_delete', created.webhook_id],
      ['webhook_update', created.webhook_id],
      ['webhook_create', created.webhook_id],
    ]);
  });

  it('refuses another tenant its webhooks (the same 404)', async () => {
    const created = await subscribe(tenantCaller(freshTenant()));
    await expect(getWebhook(deps, tenantCaller(freshTenant()), created.webhook_id)).rejects.toMatchObject({ code: 'webhook_not_found' });
  });

  it('refuses loopback, private and credential-bearing URLs under the runner rules when private hosts are off', async () => {
    const strict: Deps = { ...deps, config: { ...deps.config, allowPrivateWebhooks: false } };
    const caller = tenantCaller(freshTenant());
    for (const url of [
      'http://127.0.0.1:9/x',
      'http://localhost/x',
      'http://169.254.169.254/latest',
      'http://[::1]/x',
      'http://10.0.0.1/x',
      'https://hooks.example.com/x?token=abc',
      'https://u:p@hooks.example.com/x',
    ]) {
      await expect(createWebhook(strict, caller, { url, events: ['profile.deleted'], active: true }), url).rejects.toBeInstanceOf(
        ValidationError,
      );
    }
    const aws: Deps = {
      ...deps,
      config: { ...loadConfig({ VAULT_MODE: 'aws', VAULT_TABLE_NAME: 'x' }), tableName: deps.config.tableName },
    };
    await expect(
      createWebhook(aws, caller, { url: 'http://hooks.example.com/x', events: ['profile.deleted'], active: true }),
    ).rejects.toThrow(/https/);
    const listed: Deps = { ...deps, config: { ...deps.config, allowedWebhookHosts: ['hooks.example.com'] } };
    await expect(createWebhook(listed, caller, { url: receiver.url, events: ['profile.deleted'], active: true })).rejects.toThrow(
      /not allowed/,
    );
  });
});

describe('publishEvent', () => {
  it('enqueues one pending delivery per active webhook subscribed to the type, and dispatches each', async () => {
    const caller = tenantCaller(freshTenant());
    const a = await subscribe(caller, ['profile.deleted']);
    const b = await subscribe(caller, ['profile.deleted', 'connection.connected']);
    await subscribe(caller, ['connection.connected']);
    const off = await subscribe(caller, ['profile.deleted']);
    await updateWebhook(deps, caller, off.webhook_id, { active: false });

    await publishEvent(deps, caller.tenant, { type: 'profile.deleted', agent_id: 'crm-bot', profile: 'main', data: { generation: 2 } });

    expect(dispatcher.refs.map((r) => r.webhookId).sort()).toEqual([a.webhook_id, b.webhook_id].sort());
    const [first] = (await listDeliveries(deps, caller, a.webhook_id, 10)).deliveries;
    expect(first).toMatchObject({ event_type: 'profile.deleted', status: 'pending', attempts: 0, max_attempts: MAX_ATTEMPTS });
    const [second] = (await listDeliveries(deps, caller, b.webhook_id, 10)).deliveries;
    expect(second?.event_id).toBe(first?.event_id);
  });

  it('does not throw when the store fails: the failure is logged and counted', async () => {
    const before = webhookEnqueueFailures();
    const broken: Deps = {
      ...deps,
      store: {
        ...deps.store,
        webhooks: {
          ...deps.store.webhooks,
          list: () => Promise.reject(Object.assign(new Error('down'), { name: 'ProvisionedThroughputExceededException' })),
        },
      },
    };

    await expect(publishEvent(broken, 'acme', { type: 'profile.deleted', agent_id: 'a', profile: 'p' })).resolves.toBeUndefined();

    expect(webhookEnqueueFailures()).toBe(before + 1);
    expect(t.deps.logs.some((l) => l.includes('webhook event not enqueued') && l.includes('ProvisionedThroughputExceededException'))).toBe(
      true,
    );
  });

  it('records a delivery whose dispatch failed as failed / not_queued, and still does not throw', async () => {
    const caller = tenantCaller(freshTenant());
    const w = await subscribe(caller);
    const refusing: Deps = { ...deps, webhooks: { dispatch: () => Promise.reject(new Error('queue full')) } };

    await publishEvent(refusing, caller.tenant, { type: 'profile.deleted', agent_id: 'a', profile: 'p' });

    const [d] = (await listDeliveries(deps, caller, w.webhook_id, 10)).deliveries;
    expect(d).toMatchObject({ status: 'failed', outcome: 'not_queued', attempts: 0 });
  });
});

describe('profile.deleted on an agent delete', () => {
  async function agentWithProfiles(caller: Caller, n: number, owner?: Caller) {
    const agentId = `bot-${randomBytes(4).toString('hex')}`;
    await createAgent(
      deps,
      caller.tenant,
      {
        agent_id: agentId,
        name: 'bot',
        input_args: [{ name: 'password', required: true, secret: true }],
        runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
      },
      owner,
    );
    for (let i = 0; i < n; i++)
      await createProfile(deps, caller.tenant, { name: `p${i}`, agent_id: agentId, auth_data: { password: `pw-${i}` } });
    return agentId;
  }

  it('delivers one profile.deleted per profile a forced delete removed, more than one delivery batch', async () => {
    const caller = tenantCaller(freshTenant());
    const w = await subscribe(caller);
    await subscribe(caller, ['connection.connected']);
    const agentId = await agentWithProfiles(caller, 30);

    await deleteAgent(deps, caller.tenant, agentId, true);

    // Only the subscribed webhook, once per profile.
    expect(dispatcher.refs).toHaveLength(30);
    expect(new Set(dispatcher.refs.map((r) => r.webhookId))).toEqual(new Set([w.webhook_id]));
    for (const ref of dispatcher.refs) expect((await attemptDelivery(deps, ref)).result).toBe('delivered');
    const payloads = receiver.seen.map((s) => JSON.parse(s.body));
    expect(payloads.map((p) => p.profile).sort()).toEqual(Array.from({ length: 30 }, (_, i) => `p${i}`).sort());
    for (const p of payloads) {
      expect(p).toMatchObject({ type: 'profile.deleted', agent_id: agentId, data: { generation: 1, forced: true } });
      expect(p).not.toHaveProperty('tenant');
    }
    expect(new Set(payloads.map((p) => p.id)).size).toBe(30);
    expect((await listDeliveries(deps, caller, w.webhook_id, 50)).deliveries.every((d) => d.status === 'delivered')).toBe(true);
  });

  it('publishes nothing when the delete is refused (409 without force, 403 over profiles the owner may not delete)', async () => {
    const caller = tenantCaller(freshTenant());
    await subscribe(caller);
    const agentId = await agentWithProfiles(caller, 2);
    const owner: Caller = { tenant: caller.tenant, apiKeyId: '00000000000000bb', role: 'member' };
    const owned = await agentWithProfiles(caller, 1, owner);

    await expect(deleteAgent(deps, caller.tenant, agentId, false)).rejects.toMatchObject({ status: 409, code: 'agent_has_profiles' });
    await expect(deleteAgent(deps, caller.tenant, owned, true, owner)).rejects.toMatchObject({
      status: 403,
      message: expect.stringContaining('your key cannot see'),
    });

    expect(dispatcher.refs).toHaveLength(0);
    expect((await listProfiles(deps, caller.tenant, agentId, 10)).profiles).toHaveLength(2);
    expect((await listProfiles(deps, caller.tenant, owned, 10)).profiles).toHaveLength(1);
  });

  it('publishes nothing for an agent without profiles', async () => {
    const caller = tenantCaller(freshTenant());
    await subscribe(caller);
    const agentId = await agentWithProfiles(caller, 0);

    await deleteAgent(deps, caller.tenant, agentId, false);

    expect(dispatcher.refs).toHaveLength(0);
  });
});

describe('attemptDelivery', () => {
  async function oneDelivery(caller: Caller) {
    const w = await subscribe(caller);
    await publishEvent(deps, caller.tenant, { type: 'profile.deleted', agent_id: 'crm-bot', profile: 'main' });
    const ref = dispatcher.refs.at(-1) as DeliveryRef;
    return { w, ref };
  }

  it('POSTs the event signed with the webhook secret like a runner call, and records it delivered', async () => {
    const caller = tenantCaller(freshTenant());
    const { w, ref } = await oneDelivery(caller);

    const result = await attemptDelivery(deps, ref);

    expect(result).toEqual({ result: 'delivered', attempt: 1, status: 200 });
    const [got] = receiver.seen;
    const payload = JSON.parse(got?.body ?? '{}');
    expect(payload).toMatchObject({
      type: 'profile.deleted',
      agent_id: 'crm-bot',
      profile: 'main',
      occurred_at: clock.toISOString(),
      data: {},
    });
    expect(payload).not.toHaveProperty('tenant');
    expect(got?.headers[EVENT_HEADER]).toBe('profile.deleted');
    expect(got?.headers[EVENT_ID_HEADER]).toBe(payload.id);
    expect(got?.headers[DELIVERY_HEADER]).toBe(ref.deliveryId);
    expect(got?.headers[ATTEMPT_HEADER]).toBe('1');
    const nowSeconds = Math.floor(clock.getTime() / 1000);
    expect(verifySignature(w.signing_secret, got?.body ?? '', got?.headers['x-agent-vault-signature'] as string, { nowSeconds })).toBe(
      true,
    );
    expect(verifySignature('avw_another-secret', got?.body ?? '', got?.headers['x-agent-vault-signature'] as string, { nowSeconds })).toBe(
      false,
    );
    const [logged] = (await listDeliveries(deps, caller, w.webhook_id, 10)).deliveries;
    expect(logged).toMatchObject({
      status: 'delivered',
      attempts: 1,
      last_status_code: 200,
      outcome: 'delivered',
      finished_at: clock.toISOString(),
    });
    expect(logged).not.toHaveProperty('body');
  });

  it('retries after 500s with exponential backoff, the same event each time, and gives up after max_attempts', async () => {
    const caller = tenantCaller(freshTenant());
    const { w, ref } = await oneDelivery(caller);
    receiver.statuses = [500, 500, 503, 500];

    const delays: number[] = [];
    for (let i = 1; i < MAX_ATTEMPTS; i++) {
      const r = await attemptDelivery(deps, ref);
      expect(r).toMatchObject({ result: 'retry', attempt: i, outcome: 'http_error' });
      const [d] = (await listDeliveries(deps, caller, w.webhook_id, 10)).deliveries;
      expect(d).toMatchObject({ status: 'pending', attempts: i, last_status_code: i === 3 ? 503 : 500 });
      if (r.result === 'retry') {
        delays.push(r.retryInMs);
        expect(d?.next_attempt_at).toBe(new Date(clock.getTime() + r.retryInMs).toISOString());
        advance(r.retryInMs);
      }
    }
    const last = await attemptDelivery(deps, ref);

    expect(delays).toEqual([BASE_MS, 2 * BASE_MS, 4 * BASE_MS]);
    expect(last).toEqual({ result: 'failed', attempt: MAX_ATTEMPTS, outcome: 'http_error' });
    expect(receiver.seen.map((s) => s.headers[ATTEMPT_HEADER])).toEqual(['1', '2', '3', '4']);
    expect(new Set(receiver.seen.map((s) => s.body)).size).toBe(1);
    const [d] = (await listDeliveries(deps, caller, w.webhook_id, 10)).deliveries;
    expect(d).toMatchObject({ status: 'failed', attempts: MAX_ATTEMPTS, outcome: 'http_error', last_status_code: 500 });
    expect(d?.next_attempt_at).toBeUndefined();
    // Finished: a late duplicate invocation sends nothing.
    expect(await attemptDelivery(deps, ref)).toEqual({ result: 'skipped', reason: 'finished' });
    expect(receiver.seen).toHaveLength(MAX_ATTEMPTS);
  });

  it('delivers on a later attempt once the receiver recovers', async () => {
    const caller = tenantCaller(freshTenant());
    const { w, ref } = await oneDelivery(caller);
    receiver.statuses = [500];

    expect((await attemptDelivery(deps, ref)).result).toBe('retry');
    advance(BASE_MS);
    expect(await attemptDelivery(deps, ref)).toEqual({ result: 'delivered', attempt: 2, status: 200 });
    expect((await listDeliveries(deps, caller, w.webhook_id, 10)).deliveries[0]).toMatchObject({ status: 'delivered', attempts: 2 });
  });

  it('retries a receiver that cannot be reached', async () => {
    const caller = tenantCaller(freshTenant());
    const w = await createWebhook(deps, caller, { url: 'http://127.0.0.1:9/closed', events: ['profile.deleted'], active: true });
    await publishEvent(deps, caller.tenant, { type: 'profile.deleted', agent_id: 'a', profile: 'p' });

    const r = await attemptDelivery(deps, dispatcher.refs.at(-1) as DeliveryRef);

    expect(r).toMatchObject({ result: 'retry', outcome: 'unreachable' });
    expect((await listDeliveries(deps, caller, w.webhook_id, 10)).deliveries[0]?.last_status_code).toBeUndefined();
  });

  it('lets one of two concurrent attempts send, and takes over an attempt whose lease has passed', async () => {
    const caller = tenantCaller(freshTenant());
    const { ref } = await oneDelivery(caller);
    receiver.statuses = [500];

    const both = await Promise.all([attemptDelivery(deps, ref), attemptDelivery(deps, ref)]);
    expect(both.map((r) => r.result).sort()).toEqual(['retry', 'skipped']);
    expect(receiver.seen).toHaveLength(1);

    // A worker that took the lease and crashed: the delivery is busy until the lease passes.
    const d = await deps.store.webhooks.getDelivery(ref.tenant, ref.webhookId, ref.deliveryId, 0);
    const { pk: _pk, sk: _sk, entity: _e, ...rec } = d as NonNullable<typeof d>;
    await deps.store.webhooks.replaceDelivery(
      { ...rec, attempts: rec.attempts + 1, lease_until: clock.getTime() + 40_000, version: rec.version + 1 },
      rec.version,
    );
    expect(await attemptDelivery(deps, ref)).toEqual({ result: 'skipped', reason: 'busy' });
    advance(40_001);
    expect(await attemptDelivery(deps, ref)).toEqual({ result: 'delivered', attempt: 3, status: 200 });
  });

  it('keeps a kept-alive connection to a receiver to the one webhook it was opened for', async () => {
    // Three webhooks at one URL: two of one tenant, one of another.
    const first = tenantCaller(freshTenant());
    const other = tenantCaller(freshTenant());
    const a = await subscribe(first);
    const b = await subscribe(first);
    const c = await subscribe(other);
    const before = receiver.connections.length;

    for (let round = 0; round < 2; round++) {
      await publishEvent(deps, first.tenant, { type: 'profile.deleted', agent_id: 'crm-bot', profile: `p${round}` });
      await publishEvent(deps, other.tenant, { type: 'profile.deleted', agent_id: 'crm-bot', profile: `p${round}` });
    }
    for (const ref of dispatcher.refs) expect((await attemptDelivery(deps, ref)).result).toBe('delivered');

    const webhookOf = new Map(dispatcher.refs.map((r) => [r.deliveryId, r.webhookId]));
    const used = new Map<string, Set<number>>();
    for (const s of receiver.seen) {
      const id = webhookOf.get(s.headers[DELIVERY_HEADER] as string) as string;
      used.set(id, (used.get(id) ?? new Set()).add(s.connection));
    }
    // Each webhook's two deliveries went over one connection, and no two webhooks shared one.
    expect([a, b, c].map((w) => used.get(w.webhook_id)?.size)).toEqual([1, 1, 1]);
    expect(new Set([a, b, c].map((w) => [...(used.get(w.webhook_id) ?? [])][0])).size).toBe(3);
    expect(receiver.connections).toHaveLength(before + 3);
  });

  it('fails a delivery whose webhook was deleted or switched off, without sending', async () => {
    const caller = tenantCaller(freshTenant());
    const first = await oneDelivery(caller);
    await deleteWebhook(deps, caller, first.w.webhook_id);
    expect(await attemptDelivery(deps, first.ref)).toEqual({ result: 'failed', attempt: 1, outcome: 'webhook_deleted' });

    const second = await oneDelivery(caller);
    await updateWebhook(deps, caller, second.w.webhook_id, { active: false });
    expect(await attemptDelivery(deps, second.ref)).toEqual({ result: 'failed', attempt: 1, outcome: 'webhook_inactive' });
    expect(receiver.seen).toHaveLength(0);
  });

  it('refuses at send time a URL the settings no longer allow (blocked, no retry)', async () => {
    const caller = tenantCaller(freshTenant());
    const { ref } = await oneDelivery(caller);
    const strict: Deps = { ...deps, config: { ...deps.config, allowPrivateWebhooks: false } };

    expect(await attemptDelivery(strict, ref)).toEqual({ result: 'failed', attempt: 1, outcome: 'blocked' });
    expect(receiver.seen).toHaveLength(0);
  });

  it('signs with the rotated secret from the rotation on', async () => {
    const caller = tenantCaller(freshTenant());
    const { w, ref } = await oneDelivery(caller);
    const rotated = await rotateWebhookSecret(deps, caller, w.webhook_id);

    await attemptDelivery(deps, ref);

    const got = receiver.seen[0];
    const nowSeconds = Math.floor(clock.getTime() / 1000);
    expect(
      verifySignature(rotated.signing_secret, got?.body ?? '', got?.headers['x-agent-vault-signature'] as string, { nowSeconds }),
    ).toBe(true);
    expect(verifySignature(w.signing_secret, got?.body ?? '', got?.headers['x-agent-vault-signature'] as string, { nowSeconds })).toBe(
      false,
    );
  });

  it('never sends a delivery whose stored body was edited in the table (signed store)', async () => {
    const caller = tenantCaller(freshTenant());
    const { ref } = await oneDelivery(caller);
    const k = keys.webhookDelivery(ref.tenant, ref.webhookId, ref.deliveryId);
    const { Item } = await t.store.db.doc.send(new GetCommand({ TableName: t.store.db.tableName, Key: k }));
    await t.store.db.doc.send(new PutCommand({ TableName: t.store.db.tableName, Item: { ...Item, body: '{"type":"forged"}' } }));

    await expect(attemptDelivery(deps, ref)).rejects.toBeInstanceOf(IntegrityError);
    expect(receiver.seen).toHaveLength(0);
  });
});

describe('the delivery log', () => {
  it('pages newest first and leaves expired entries out', async () => {
    const caller = tenantCaller(freshTenant());
    const w = await subscribe(caller);
    for (let i = 0; i < 5; i++) {
      await publishEvent(deps, caller.tenant, { type: 'profile.deleted', agent_id: 'a', profile: `p${i}` });
      advance(1_000);
    }
    const ids = dispatcher.refs.map((r) => r.deliveryId);

    const page1 = await listDeliveries(deps, caller, w.webhook_id, 2);
    const page2 = await listDeliveries(deps, caller, w.webhook_id, 2, page1.next_cursor);
    const page3 = await listDeliveries(deps, caller, w.webhook_id, 2, page2.next_cursor);
    expect([...page1.deliveries, ...page2.deliveries, ...page3.deliveries].map((d) => d.delivery_id)).toEqual([...ids].reverse());

    advance(deps.config.webhookDeliveryRetentionSeconds * 1000);
    expect((await listDeliveries(deps, caller, w.webhook_id, 10)).deliveries).toEqual([]);
  });

  it('stores the event body only in the delivery item, in its own partition', async () => {
    const caller = tenantCaller(freshTenant());
    const w = await subscribe(caller);
    await publishEvent(deps, caller.tenant, { type: 'profile.deleted', agent_id: 'a', profile: 'p' });

    const items = await t.store.db.doc.send(
      new QueryCommand({
        TableName: t.store.db.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': keys.webhookPartition(caller.tenant, w.webhook_id) },
      }),
    );
    expect(items.Items).toHaveLength(1);
    expect(items.Items?.[0]).toMatchObject({ entity: 'webhook_delivery', status: 'pending', mac_format: 2 });
  });

  it('queues a webhook.test event through the same path, audited', async () => {
    const caller = tenantCaller(freshTenant());
    const w = await subscribe(caller, ['connection.connected']);

    const queued = await sendTestEvent(deps, caller, w.webhook_id);
    await attemptDelivery(deps, dispatcher.refs.at(-1) as DeliveryRef);

    expect(queued.status).toBe('queued');
    expect(JSON.parse(receiver.seen[0]?.body ?? '{}')).toMatchObject({
      id: queued.event_id,
      type: 'webhook.test',
      data: { webhook_id: w.webhook_id },
    });
    expect((await queryAudit(deps, { tenant: caller.tenant, limit: 1 })).records[0]).toMatchObject({
      action: 'webhook_test',
      principal: w.webhook_id,
      status: 202,
    });
  });
});
