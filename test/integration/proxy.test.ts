import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryAudit } from '#shared/audit/log';
import { namedProfileRef, slotFor } from '#shared/credentials/profile-keys';
import { profileRepository } from '#shared/repositories/profiles';


import { proxyRequest, testProfile } from '#shared/services/proxy';
import { type TestDeps, useTestStore, signerOf } from '#test/support/dynamo';
import { testCaller } from '#test/support/credentials';
import { freePort } from '#test/support/net';
import { type EchoUpstream, startEchoUpstream } from '#test/support/upstream';
import { createAgent, createProfileRecord } from '#test/support/services';

const TENANT = 'acme';
const caller = testCaller(TENANT);
const t = useTestStore();
let upstream: EchoUpstream;
/** Deps whose proxy gives up after 300 ms. */
let impatient: TestDeps;

beforeAll(async () => {
  upstream = await startEchoUpstream();
  // The same store and server key, with a proxy that gives up after 300 ms.
  impatient = { ...t.deps, config: { ...t.deps.config, proxyTimeoutMs: 300 } };
});

afterAll(async () => {
  await upstream?.close();
});

let seq = 0;
async function bearerProfile(extra: Record<string, unknown> = {}) {
  const agentId = `proxy-int-${++seq}-${randomBytes(3).toString('hex')}`;
  await createAgent(t.deps, TENANT, { agent_id: agentId, name: agentId, input_args: [], runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' } });
  const { auth_token } = await createProfileRecord(t.deps, TENANT, {
    name: 'p',
    agent_id: agentId,
    auth_type: 'bearer',
    auth_data: { token: `tok-${randomBytes(8).toString('hex')}` },
    allowed_hosts: ['127.0.0.1'],
    ...extra,
  });
  return { agentId, token: auth_token };
}

const stored = (agentId: string) => profileRepository(t.store.db, signerOf(t.deps)).get(namedProfileRef(TENANT, agentId, 'p'));

async function rejectionOf(p: Promise<unknown>): Promise<Error & { status?: number; code?: string }> {
  const outcome = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(outcome instanceof Error)) throw new Error('expected the call to fail, it succeeded');
  return outcome;
}

describe('proxyRequest', () => {
  it('answers 504 upstream_timeout when the upstream does not answer in time', async () => {
    const { agentId, token } = await bearerProfile();
    const err = await rejectionOf(proxyRequest(impatient, caller, { agent_id: agentId, auth_token: token, method: 'GET', url: `${upstream.url}/slow` }));
    expect(err).toMatchObject({ status: 504, code: 'upstream_timeout' });
  });

  it('answers 502 upstream_unreachable when nothing listens', async () => {
    const { agentId, token } = await bearerProfile();
    const port = await freePort();
    const err = await rejectionOf(proxyRequest(t.deps, caller, { agent_id: agentId, auth_token: token, method: 'GET', url: `http://127.0.0.1:${port}/` }));
    expect(err).toMatchObject({ status: 502, code: 'upstream_unreachable' });
  });

  it('counts a use only when the request passed the policy', async () => {
    const { agentId, token } = await bearerProfile({ allowed_methods: ['GET'] });
    await rejectionOf(proxyRequest(t.deps, caller, { agent_id: agentId, auth_token: token, method: 'POST', url: `${upstream.url}/` }));
    await rejectionOf(proxyRequest(t.deps, caller, { agent_id: agentId, auth_token: token, method: 'GET', url: 'http://10.0.0.1/' }));
    expect((await stored(agentId))?.use_count).toBe(0);
    const res = await proxyRequest(t.deps, caller, { agent_id: agentId, auth_token: token, method: 'GET', url: `${upstream.url}/` });
    expect(res.status).toBe(200);
    expect((await stored(agentId))?.use_count).toBe(1);
  });

  it('refuses a profile replaced meanwhile: the old token answers 404', async () => {
    const { agentId, token } = await bearerProfile();
    await createProfileRecord(t.deps, TENANT, { name: 'q', agent_id: agentId, auth_type: 'bearer', auth_data: { token: 'x' } });
    const { upsertProfile } = await import('#test/support/services');
    await upsertProfile(t.deps, TENANT, { agent_id: agentId, name: 'p', auth_type: 'bearer', auth_data: { token: 'new' } });
    const err = await rejectionOf(proxyRequest(t.deps, caller, { agent_id: agentId, auth_token: token, method: 'GET', url: `${upstream.url}/` }));
    expect(err).toMatchObject({ status: 404, code: 'profile_not_found' });
  });

  it('answers 400 invalid_header, not 500, for a header value HTTP cannot carry', async () => {
    const { agentId, token } = await bearerProfile();
    const err = await rejectionOf(
      proxyRequest(t.deps, caller, { agent_id: agentId, auth_token: token, method: 'GET', url: `${upstream.url}/`, headers: { 'x-note': 'snow\u2603' } }),
    );
    expect(err).toMatchObject({ status: 400, code: 'invalid_header' });
  });

  it('refuses a body on GET with 400', async () => {
    const { agentId, token } = await bearerProfile();
    const err = await rejectionOf(proxyRequest(t.deps, caller, { agent_id: agentId, auth_token: token, method: 'GET', url: `${upstream.url}/`, body: { a: 1 } }));
    expect(err).toMatchObject({ status: 400 });
  });
});

describe('injection by type over a real store', () => {
  async function typedProfile(body: Record<string, unknown>) {
    const agentId = `inject-${++seq}-${randomBytes(3).toString('hex')}`;
    await createAgent(t.deps, TENANT, { agent_id: agentId, name: agentId, input_args: [], runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' } });
    const { auth_token } = await createProfileRecord(t.deps, TENANT, { name: 'p', agent_id: agentId, allowed_hosts: ['127.0.0.1'], auth_data: {}, ...body });
    return { agentId, token: auth_token };
  }
  const seenLast = () => upstream.seen[upstream.seen.length - 1];

  it.each([
    ['bearer', { auth_type: 'bearer', auth_data: { token: 'int-bearer' } }, () => expect(seenLast()?.headers.authorization).toBe('Bearer int-bearer')],
    ['basic', { auth_type: 'basic', auth_data: { username: 'u', password: 'int-basic' } }, () => expect(seenLast()?.headers.authorization).toBe(`Basic ${Buffer.from('u:int-basic').toString('base64')}`)],
    ['api_key header', { auth_type: 'api_key', auth_config: { api_key_method: 'header' }, auth_data: { 'X-Key': 'int-header' } }, () => expect(seenLast()?.headers['x-key']).toBe('int-header')],
    ['api_key query', { auth_type: 'api_key', auth_config: { api_key_method: 'query' }, auth_data: { key: 'int-query' } }, () => expect(seenLast()?.query.key).toEqual(['int-query'])],
    ['api_key body', { auth_type: 'api_key', auth_config: { api_key_method: 'body' }, auth_data: { key: 'int-body' } }, () => expect(JSON.parse(seenLast()?.body ?? '{}')).toEqual({ a: 1, key: 'int-body' })],
  ] as const)('%s: injects and redacts the echo', async (_label, body, check) => {
    const { agentId, token } = await typedProfile(body);
    const res = await proxyRequest(t.deps, caller, { agent_id: agentId, auth_token: token, method: 'POST', url: `${upstream.url}/`, body: { a: 1 }, headers: { authorization: 'Bearer caller' } });
    check();
    expect(res.status).toBe(200);
    expect(res.body).not.toMatch(/int-(bearer|basic|header|query|body)/);
    expect(res.body).toContain('[REDACTED]');
  });
});

describe('testProfile', () => {
  it('stores a failed test when the upstream cannot be reached, with the reason and no status', async () => {
    const { agentId, token } = await bearerProfile();
    const port = await freePort();
    const res = await testProfile(t.deps, caller, agentId, 'p', { auth_token: token, request: { method: 'GET', url: `http://127.0.0.1:${port}/` } });
    expect(res.ok).toBe(false);
    expect(res.status).toBeUndefined();
    expect(res.error).toContain('could not be reached');
    expect(await stored(agentId)).toMatchObject({ last_test_ok: false });
  });

  it('stores a failed test on a timeout', async () => {
    const { agentId, token } = await bearerProfile();
    const res = await testProfile(impatient, caller, agentId, 'p', { auth_token: token, request: { method: 'GET', url: `${upstream.url}/slow` } });
    expect(res).toMatchObject({ ok: false, error: expect.stringContaining('did not answer in time') });
  });
});

describe('audit records of a proxied use', () => {
  /** The profile's use records, newest first, as [action, status, result]. */
  const uses = async (agentId: string) =>
    (await queryAudit(t.deps, { tenant: TENANT, agentId, slot: slotFor(TENANT, agentId, 'p').toString('hex'), actions: ['proxy', 'test'], limit: 10 })).records.map((r) => [
      r.action,
      r.status,
      r.result,
    ]);
  /** The same store and keys, with the SSRF guard on (as deployed): loopback is refused. */
  const strict = () => ({ ...t.deps, config: { ...t.deps.config, allowPrivateUpstreams: false } });

  it('follows the use record of a send the SSRF guard refuses with its 403 destination_blocked', async () => {
    const { agentId, token } = await bearerProfile();

    const err = await rejectionOf(proxyRequest(strict(), caller, { agent_id: agentId, auth_token: token, method: 'GET', url: `${upstream.url}/` }));

    expect(err).toMatchObject({ status: 403, code: 'destination_blocked' });
    expect(await uses(agentId)).toEqual([
      ['proxy', 403, 'destination_blocked'],
      ['proxy', 200, 'ok'],
    ]);
  });

  it('follows the use record of a send that finds nothing listening with its 502 upstream_unreachable', async () => {
    const { agentId, token } = await bearerProfile();
    const port = await freePort();

    await rejectionOf(proxyRequest(t.deps, caller, { agent_id: agentId, auth_token: token, method: 'GET', url: `http://127.0.0.1:${port}/` }));

    expect(await uses(agentId)).toEqual([
      ['proxy', 502, 'upstream_unreachable'],
      ['proxy', 200, 'ok'],
    ]);
  });

  it('leaves the one use record of a send that was answered', async () => {
    const { agentId, token } = await bearerProfile();

    await proxyRequest(t.deps, caller, { agent_id: agentId, auth_token: token, method: 'GET', url: `${upstream.url}/` });

    expect(await uses(agentId)).toEqual([['proxy', 200, 'ok']]);
  });

  it('follows the use record of a profile test whose destination is refused with its 403', async () => {
    const { agentId, token } = await bearerProfile();

    const err = await rejectionOf(testProfile(strict(), caller, agentId, 'p', { auth_token: token, request: { method: 'GET', url: `${upstream.url}/` } }));

    expect(err).toMatchObject({ status: 403, code: 'destination_blocked' });
    expect(await uses(agentId)).toEqual([
      ['test', 403, 'destination_blocked'],
      ['test', 200, 'ok'],
    ]);
  });
});
