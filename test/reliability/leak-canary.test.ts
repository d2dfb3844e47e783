/**
 * Leak canaries: the whole HTTP flow (agent, profile create/update/replace, sync and async runs
 * against a loopback runner that echoes what it gets, and a series of refused requests) with
 * recognisable secrets, then every place a secret could end up is searched for them raw, as hex,
 * base64 and base64url: the vault's logs, every error body, every run result, what the runner
 * received apart from the parameters and session it is meant to receive, every stored item, and
 * every file under the data folders.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGrant, parseToken } from '#shared/crypto/token';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '#infra/local/embedded-dynamo';
import { type TestVault, startTestVault } from '#test/support/vault';
import { startTestRunner } from '#test/support/runner';
import { type EchoUpstream, startEchoUpstream } from '#test/support/upstream';
import { findLeaks, scanAll } from './helpers.ts';

const canary = (label: string) => `CANARY${label}${randomBytes(18).toString('base64url')}`;
const PASSWORD = canary('pw');
const PASSWORD_2 = canary('pwtwo');
const USERNAME = canary('user');
const PARAM = canary('param');
const SESSION = canary('session');
const BAD_VALUE = canary('refused');
const BEARER = canary('bearer');
const BASIC_PW = canary('basicpw');
const GRANT_BEARER = canary('grantbearer');

let dynamo: EmbeddedDynamo;
let dbDir: string;
let vault: TestVault;
let runner: Awaited<ReturnType<typeof startTestRunner>>;
let upstream: EchoUpstream;

/** Everything collected during the flow, by source. */
const material = {
  errorBodies: [] as string[],
  runResults: [] as string[],
  proxyAnswers: [] as string[],
  /** Bodies of the lifecycle and audit endpoints (rotate aside, whose body is the new token). */
  lifecycleBodies: [] as string[],
};
const secrets: Record<string, string | Buffer> = {
  password: PASSWORD,
  'second password': PASSWORD_2,
  username: USERNAME,
  parameter: PARAM,
  session: SESSION,
  'refused value': BAD_VALUE,
  'bearer token': BEARER,
  'basic password': BASIC_PW,
  'basic header value': Buffer.from(`svc:${BASIC_PW}`).toString('base64'),
  'bearer token behind a run grant': GRANT_BEARER,
};

async function call(method: string, path: string, body?: unknown, opts: Parameters<TestVault['call']>[3] = {}) {
  const res = await vault.call(method, path, body, opts);
  if (res.status >= 400) material.errorBodies.push(res.text);
  return res;
}

async function waitForRun(sessionId: string) {
  for (let i = 0; i < 200; i++) {
    const res = await call('GET', `/v1/runs/${sessionId}`);
    if (res.json?.status === 'succeeded' || res.json?.status === 'failed') return res;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`run ${sessionId} did not finish`);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** Item attributes as searchable text: JSON with binary as base64, plus the raw binary bytes. */
function itemMaterial(items: Record<string, unknown>[]): Buffer {
  const raw: Buffer[] = [];
  const text = JSON.stringify(items, (_k, v: unknown) => {
    if (v instanceof Uint8Array) {
      raw.push(Buffer.from(v));
      return { $b64: Buffer.from(v).toString('base64') };
    }
    return v instanceof Set ? [...v] : v;
  });
  return Buffer.concat([Buffer.from(text), ...raw]);
}

/** A careless runner: echoes the credentials it received in its output and error. */
const careless = (c: { body?: any }) => {
  const p = (c.body?.parameters ?? {}) as Record<string, string>;
  return { body: { output: { echoed: p.password, said: `logged in as ${p.username} with ${p.password}` }, error: `warning: ${p.password} expires soon`, session: { cookie: SESSION } } };
};

beforeAll(async () => {
  dbDir = mkdtempSync(join(tmpdir(), 'agent-vault-canary-db-'));
  dynamo = await startEmbeddedDynamo(dbDir);
  vault = await startTestVault({ VAULT_DYNAMODB_ENDPOINT: dynamo.endpoint });
  secrets['API key'] = vault.apiKey;
  runner = await startTestRunner(careless);

  const agent = await call('POST', '/v1/agents', {
    agent_id: 'canary-agent',
    name: 'Canary',
    input_args: [
      { name: 'username', required: true },
      { name: 'password', required: true, secret: true },
      { name: 'extra', required: false },
    ],
    runner: { type: 'webhook', url: runner.url },
  });
  expect(agent.status, agent.text).toBe(201);
  secrets['runner signing secret'] = agent.json.runner_signing_secret;

  // Profiles: create, update in place, replace.
  const created = await call('POST', '/api/upsert_agent_auth_profile', { agent_id: 'canary-agent', name: 'main', should_save_session: true, auth_data: { username: USERNAME, password: PASSWORD } });
  expect(created.status, created.text).toBe(200);
  const token: string = created.json.auth_token;
  const updated = await call('POST', '/api/upsert_agent_auth_profile', { agent_id: 'canary-agent', auth_token: token, auth_data: { password: PASSWORD } });
  expect(updated.json?.type, updated.text).toBe('update');
  const other = await call('POST', '/api/create_agent_auth_profile', { agent_id: 'canary-agent', name: 'other', auth_data: { username: USERNAME, password: PASSWORD_2 } });
  const replaced = await call('POST', '/api/upsert_agent_auth_profile', { agent_id: 'canary-agent', name: 'other', auth_data: { username: USERNAME, password: PASSWORD_2 } });
  expect(replaced.json?.type, replaced.text).toBe('replace');
  for (const [label, t] of [['token', token], ['replaced token', other.json.auth_token as string], ['replacing token', replaced.json.auth_token as string]] as const) {
    secrets[label] = t;
    secrets[`${label} secret bytes`] = parseToken(t).secret;
  }

  // Runs: sync twice (the second gets the saved session), async once, and a runner that fails.
  for (const runAsync of [false, false, true]) {
    const run = await call('POST', '/run_agent', { agent_id: 'canary-agent', auth_token: token, parameters: { extra: PARAM }, run_async: runAsync });
    expect(run.status, run.text).toBe(200);
    material.runResults.push(run.text, (await waitForRun(run.json.session_id)).text);
  }
  runner.setBehaviour(() => ({ status: 500, body: `upstream said ${PASSWORD} is wrong` }));
  const failing = await call('POST', '/api/run_agent', { agent_id: 'canary-agent', auth_token: token, run_async: false });
  material.runResults.push(failing.text);
  runner.setBehaviour(() => ({ body: `not json ${PASSWORD}` }));
  const garbled = await call('POST', '/api/run_agent', { agent_id: 'canary-agent', auth_token: token, run_async: false });
  material.runResults.push(garbled.text);

  // Refused requests carrying secrets in every field that holds one.
  const forged = `avt_${Buffer.concat([randomBytes(48), Buffer.alloc(4)]).toString('base64url')}`;
  await call('POST', '/api/create_agent_auth_profile', { agent_id: 'canary-agent', name: 'x', auth_data: { password: BAD_VALUE, not_declared: BAD_VALUE } });
  await call('POST', '/api/create_agent_auth_profile', { agent_id: 'canary-agent', name: 'x', auth_data: { password: `${BAD_VALUE}${'x'.repeat(17_000)}` } });
  await call('POST', '/api/create_agent_auth_profile', { agent_id: 'canary-agent', name: 'main', auth_data: { password: BAD_VALUE } });
  await call('POST', '/api/upsert_agent_auth_profile', { agent_id: 'canary-agent', auth_token: `avt_${BAD_VALUE}`, auth_data: { password: BAD_VALUE } });
  await call('POST', '/api/upsert_agent_auth_profile', { agent_id: 'canary-agent', auth_token: forged, auth_data: { password: BAD_VALUE } });
  await call('POST', '/api/upsert_agent_auth_profile', { agent_id: 'canary-agent', auth_token: token, auth_data: { password: '' } });
  await call('POST', '/api/upsert_agent_auth_profile', { agent_id: 'canary-agent', auth_token: token, name: 'wrong-name', auth_data: { password: BAD_VALUE } });
  await call('POST', '/api/upsert_agent_auth_profile', { agent_id: 'canary-agent', auth_token: token, auth_data: { password: 42 } });
  await call('POST', '/run_agent', { agent_id: 'canary-agent', auth_token: token, parameters: { password: BAD_VALUE } });
  await call('POST', '/run_agent', { agent_id: 'canary-agent', auth_token: replaced.json.auth_token, parameters: { nope: BAD_VALUE } });
  await call('POST', '/run_agent', { agent_id: 'canary-agent', auth_token: other.json.auth_token });
  await call('POST', '/run_agent', { agent_id: 'canary-agent', auth_token: token }, { apiKey: `avk_${BAD_VALUE.slice(0, 43).padEnd(43, 'A')}` });
  await call('GET', '/v1/agents', undefined, { apiKey: null, headers: { 'x-api-key': BAD_VALUE } });
  await call('POST', '/api/create_agent_auth_profile', undefined, { raw: `{"agent_id":"canary-agent","auth_data":{"password":"${BAD_VALUE}"` });
  await call('POST', '/api/create_agent_auth_profile', undefined, { raw: `{"__proto__":{"x":"${BAD_VALUE}"}}` });
  await call('POST', '/api/create_agent_auth_profile', undefined, { raw: `password=${BAD_VALUE}`, headers: { 'content-type': 'text/plain' } });

  // The proxy: typed profiles whose secrets an echoing upstream sends back in every answer.
  upstream = await startEchoUpstream();
  const allowed = [`127.0.0.1:${upstream.port}`];
  const bearer = await call('POST', '/v1/agents/canary-agent/auth-profiles', { name: 'bearer', auth_type: 'bearer', auth_data: { token: BEARER }, allowed_hosts: allowed, allowed_methods: ['GET', 'POST'] });
  expect(bearer.status, bearer.text).toBe(201);
  const basic = await call('POST', '/v1/agents/canary-agent/auth-profiles', { name: 'basic', auth_type: 'basic', auth_data: { username: 'svc', password: BASIC_PW }, allowed_hosts: allowed });
  expect(basic.status, basic.text).toBe(201);
  for (const [label, t] of [['bearer profile token', bearer.json.auth_token as string], ['basic profile token', basic.json.auth_token as string]] as const) {
    secrets[label] = t;
    secrets[`${label} secret bytes`] = parseToken(t).secret;
  }
  for (const [tok, path] of [[bearer.json.auth_token, '/'], [bearer.json.auth_token, '/gzip'], [bearer.json.auth_token, '/binary'], [bearer.json.auth_token, '/status/401'], [basic.json.auth_token, '/'], [basic.json.auth_token, '/binary']]) {
    const res = await call('POST', '/v1/proxy', { agent_id: 'canary-agent', auth_token: tok, method: 'GET', url: `${upstream.url}${path}`, headers: { 'x-note': BAD_VALUE } });
    expect(res.status, res.text).toBe(200);
    material.proxyAnswers.push(res.text, Buffer.from(res.json.body, res.json.body_encoding === 'base64' ? 'base64' : 'utf8').toString('latin1'));
  }
  const tested = await call('POST', '/v1/agents/canary-agent/auth-profiles/bearer/test', { auth_token: bearer.json.auth_token, request: { url: `${upstream.url}/status/403` } });
  material.proxyAnswers.push(tested.text);
  // Refused proxy requests: another host, a method outside the list, a custom profile, a forged token.
  await call('POST', '/v1/proxy', { agent_id: 'canary-agent', auth_token: bearer.json.auth_token, method: 'GET', url: `http://127.0.0.1:9/${BAD_VALUE}` });
  await call('POST', '/v1/proxy', { agent_id: 'canary-agent', auth_token: bearer.json.auth_token, method: 'DELETE', url: `${upstream.url}/` });
  await call('POST', '/v1/proxy', { agent_id: 'canary-agent', auth_token: token, method: 'GET', url: `${upstream.url}/` });
  await call('POST', '/v1/proxy', { agent_id: 'canary-agent', auth_token: forged, method: 'GET', url: `${upstream.url}/`, headers: { authorization: BAD_VALUE } });
  // Lifecycle: rotate (new token), PATCH settings, refusals by policy, usage and audit reads.
  runner.setBehaviour(careless);
  const rotated = await call('POST', '/v1/agents/canary-agent/auth-profiles/main/rotate', { auth_token: token, expires_in_hours: 48 });
  expect(rotated.status, rotated.text).toBe(200);
  secrets['rotated token'] = rotated.json.auth_token;
  secrets['rotated token secret bytes'] = parseToken(rotated.json.auth_token).secret;
  const rotatedRun = await call('POST', '/run_agent', { agent_id: 'canary-agent', auth_token: rotated.json.auth_token, run_async: false });
  material.runResults.push(rotatedRun.text);
  await call('POST', '/run_agent', { agent_id: 'canary-agent', auth_token: token, run_async: false }); // the old token: 404
  for (const patch of [{ active: false }, { active: true, allowed_source_ips: ['192.0.2.0/24'] }, { allowed_source_ips: [] }]) {
    const res = await call('PATCH', '/v1/agents/canary-agent/auth-profiles/main', patch);
    material.lifecycleBodies.push(res.text);
    await call('POST', '/run_agent', { agent_id: 'canary-agent', auth_token: rotated.json.auth_token, run_async: false });
  }
  await call('PATCH', '/v1/agents/canary-agent/auth-profiles/main', { allowed_source_ips: [BAD_VALUE] });
  await call('POST', '/v1/agents/canary-agent/auth-profiles/main/rotate', { auth_token: forged });
  await call('DELETE', '/v1/agents/canary-agent/auth-profiles/main');
  // Principals and sharing: a member key minted over the API, the bearer profile shared with it,
  // a use by it, the unshare, the listing and the revocation — each audited.
  const memberKey = await call('POST', '/v1/api-keys', { name: 'canary member', role: 'member' });
  expect(memberKey.status, memberKey.text).toBe(201);
  secrets['member API key'] = memberKey.json.api_key;
  const sharing = `/v1/agents/canary-agent/auth-profiles/bearer/share`;
  const shared = await call('POST', sharing, { principal: memberKey.json.key_id, permission: 'read' });
  expect(shared.status, shared.text).toBe(200);
  const memberUse = await call('POST', '/v1/proxy', { agent_id: 'canary-agent', auth_token: bearer.json.auth_token, method: 'GET', url: `${upstream.url}/member` }, { apiKey: memberKey.json.api_key });
  expect(memberUse.status, memberUse.text).toBe(200);
  material.proxyAnswers.push(memberUse.text);
  const unshared = await call('DELETE', `${sharing}/${memberKey.json.key_id}`);
  expect(unshared.status, unshared.text).toBe(200);
  const keyList = await call('GET', '/v1/api-keys');
  expect(keyList.status, keyList.text).toBe(200);
  material.lifecycleBodies.push(shared.text, unshared.text, keyList.text);
  expect((await call('DELETE', `/v1/api-keys/${memberKey.json.key_id}`)).status).toBe(204);
  expect((await call('GET', '/v1/agents', undefined, { apiKey: memberKey.json.api_key })).status).toBe(401);

  for (const path of ['/v1/agents/canary-agent/auth-profiles/main/usage', '/v1/audit?limit=100', '/v1/agents/canary-agent/auth-profiles/main']) {
    const res = await call('GET', path);
    expect(res.status, res.text).toBe(200);
    material.lifecycleBodies.push(res.text);
  }

  // Run grants: an agent that takes its credentials through the proxy. Its runner calls the proxy
  // with the grant and returns the (echoed) answer; afterwards the ended grant is tried again.
  const grantAgent = await call('POST', '/v1/agents', { agent_id: 'canary-proxy-agent', name: 'Canary proxy', input_args: [], runner: { type: 'webhook', url: runner.url }, credential_delivery: 'proxy' });
  expect(grantAgent.status, grantAgent.text).toBe(201);
  const grantProfile = await call('POST', '/v1/agents/canary-proxy-agent/auth-profiles', { name: 'g', auth_type: 'bearer', auth_data: { token: GRANT_BEARER }, allowed_hosts: allowed });
  expect(grantProfile.status, grantProfile.text).toBe(201);
  secrets['grant profile token'] = grantProfile.json.auth_token;
  secrets['grant profile token secret bytes'] = parseToken(grantProfile.json.auth_token).secret;
  runner.setBehaviour(async (c) => {
    const r = await fetch(c.body.proxy_url, {
      method: 'POST',
      headers: { authorization: `Bearer ${c.body.grant}`, 'content-type': 'application/json' },
      body: JSON.stringify({ method: 'GET', url: `${upstream.url}/` }),
    });
    const text = await r.text();
    material.proxyAnswers.push(text);
    return { body: { output: { proxy_status: r.status, answer: text } } };
  });
  for (const runAsync of [false, true]) {
    const run = await call('POST', '/run_agent', { agent_id: 'canary-proxy-agent', auth_token: grantProfile.json.auth_token, run_async: runAsync });
    expect(run.status, run.text).toBe(200);
    material.runResults.push(run.text, (await waitForRun(run.json.session_id)).text);
  }
  const grants = runner.calls.map((c) => c.body?.grant).filter((g): g is string => typeof g === 'string');
  expect(grants).toHaveLength(2);
  grants.forEach((g, i) => {
    secrets[`run grant ${i}`] = g;
    secrets[`run grant ${i} secret bytes`] = parseGrant(g).secret;
  });
  const ended = await call('POST', '/v1/proxy', { method: 'GET', url: `${upstream.url}/` }, { apiKey: null, headers: { authorization: `Bearer ${grants[0]}` } });
  expect(ended.status).toBe(401);

  // The boundaries: a member key that owns nothing tries every agent write, a misspelled security
  // setting carrying a secret, the downgrade of the proxy agent (refused at the next run), the
  // owner's rotation of its signing secret, and the audit views of agents.
  const stranger = await call('POST', '/v1/api-keys', { name: 'canary stranger', role: 'member' });
  secrets['stranger API key'] = stranger.json.api_key;
  const asStranger = { apiKey: stranger.json.api_key as string };
  const proxyAgentBody = { name: 'Canary proxy', input_args: [], runner: { type: 'webhook', url: runner.url } };
  for (const [method, path, body] of [
    ['POST', '/v1/agents/canary-proxy-agent/rotate-signing-secret', undefined],
    ['PUT', '/v1/agents/canary-proxy-agent', { ...proxyAgentBody, runner: { type: 'webhook', url: `http://127.0.0.1:9/${BAD_VALUE}` } }],
    ['DELETE', '/v1/agents/canary-proxy-agent?force=true', undefined],
    ['GET', `/v1/audit?agent_id=canary-proxy-agent`, undefined],
  ] as const) {
    expect((await call(method, path, body, asStranger)).status).toBe(403);
  }
  await call('POST', '/v1/agents/canary-agent/auth-profiles', { name: 'typo', auth_type: 'bearer', auth_data: { token: BAD_VALUE }, allowed_source_ip: [BAD_VALUE] });
  await call('PUT', '/v1/agents/canary-proxy-agent', { ...proxyAgentBody, credential_delivry: BAD_VALUE });
  const downgraded = await call('PUT', '/v1/agents/canary-proxy-agent', { ...proxyAgentBody, credential_delivery: 'parameters' });
  expect(downgraded.status, downgraded.text).toBe(200);
  const refusedRun = await call('POST', '/run_agent', { agent_id: 'canary-proxy-agent', auth_token: grantProfile.json.auth_token, run_async: false });
  expect(refusedRun.json?.error?.code, refusedRun.text).toBe('delivery_changed');
  const newSecret = await call('POST', '/v1/agents/canary-proxy-agent/rotate-signing-secret');
  expect(newSecret.status, newSecret.text).toBe(200);
  secrets['rotated runner signing secret'] = newSecret.json.runner_signing_secret;
  for (const path of ['/v1/audit?agent_id=canary-proxy-agent', '/v1/agents/canary-proxy-agent']) {
    const res = await call('GET', path);
    expect(res.status, res.text).toBe(200);
    material.lifecycleBodies.push(res.text);
  }
  await vault.deps.dispatcher.drain();
}, 60_000);

afterAll(async () => {
  await vault?.close();
  await runner?.close();
  await upstream?.close();
  await dynamo?.close();
});

describe('leak canaries', () => {
  it('sent the canaries where they belong (the search below has something to find)', () => {
    const params = runner.calls.map((c) => JSON.stringify(c.body?.parameters ?? {}));
    expect(params.some((p) => p.includes(PASSWORD) && p.includes(USERNAME) && p.includes(PARAM))).toBe(true);
    expect(runner.calls.some((c) => JSON.stringify(c.body?.session ?? null).includes(SESSION))).toBe(true);
    expect(material.runResults.join('\n')).toContain('[REDACTED]');
    const upstreamSaw = JSON.stringify(upstream.seen);
    expect(upstreamSaw).toContain(BEARER);
    expect(upstreamSaw).toContain(secrets['basic header value'] as string);
    expect(material.proxyAnswers.join('\n')).toContain('[REDACTED]');
    expect(upstreamSaw).toContain(GRANT_BEARER);
    expect(material.runResults.join('\n')).toContain('"proxy_status":200');
  });

  it('gives a runner of a proxy-delivery agent no credential at all, only its grant', () => {
    const grantCalls = runner.calls.filter((c) => c.body?.grant !== undefined);
    expect(grantCalls).toHaveLength(2);
    const { 'run grant 0': _g0, 'run grant 1': _g1, 'run grant 0 secret bytes': _b0, 'run grant 1 secret bytes': _b1, ...others } = secrets;
    expect(findLeaks(grantCalls.map((c) => c.rawBody).join('\n'), others)).toEqual([]);
  });

  it('finds no credential in any proxy or test answer, though the upstream echoed them all', () => {
    expect(material.proxyAnswers.length).toBeGreaterThanOrEqual(13);
    const { 'refused value': _r, parameter: _p, session: _s, ...credentials } = secrets;
    expect(findLeaks(material.proxyAnswers.join('\n'), credentials)).toEqual([]);
  });

  it('finds no canary in the logs', () => {
    const logs = vault.logs.join('\n');
    expect(vault.logs.length).toBeGreaterThan(10);
    expect(findLeaks(logs, secrets)).toEqual([]);
  });

  it('finds no canary in any error body', () => {
    expect(material.errorBodies.length).toBeGreaterThanOrEqual(15);
    expect(findLeaks(material.errorBodies.join('\n'), secrets)).toEqual([]);
  });

  it('finds no credential in any run result', () => {
    expect(material.runResults.length).toBeGreaterThanOrEqual(8);
    const { parameter: _p, session: _s, ...credentials } = secrets;
    expect(findLeaks(material.runResults.join('\n'), credentials)).toEqual([]);
  });

  it('finds no canary in what the runner received besides its parameters and session', () => {
    const received = runner.calls.map((c) => {
      // A proxy-delivery runner is meant to receive its own grant (checked above).
      const { parameters: _p, session: _s, grant: _g, ...rest } = (c.body ?? {}) as Record<string, unknown>;
      return JSON.stringify({ headers: c.headers, body: rest });
    });
    expect(received.length).toBeGreaterThanOrEqual(4);
    expect(findLeaks(received.join('\n'), secrets)).toEqual([]);
  });

  it('finds no canary in the lifecycle, usage and audit answers', () => {
    const bodies = material.lifecycleBodies.join('\n');
    expect(bodies).toContain('"action":"rotate"');
    expect(bodies).toContain('"result":"profile_inactive"');
    expect(bodies).toContain('"result":"source_ip_not_allowed"');
    expect(findLeaks(bodies, secrets)).toEqual([]);
  });

  it('finds no canary in any audit record, of every kind written', async () => {
    const audit = (await scanAll(vault.deps.db)).filter((i) => i.entity === 'audit');
    const actions = new Set(audit.map((i) => i.action));
    for (const a of ['create', 'update', 'replace', 'rotate', 'patch', 'share', 'unshare', 'api_key_create', 'api_key_revoke', 'run', 'proxy', 'test']) expect(actions, a).toContain(a);
    // API-key events name the key by its id only, in the tenant view only.
    const keyEvents = audit.filter((i) => String(i.action).startsWith('api_key_'));
    expect(keyEvents.length).toBeGreaterThanOrEqual(2);
    expect(keyEvents.every((i) => i.view === 'tenant' && i.agent_id === undefined && /^[0-9a-f]{16}$/.test(String(i.principal)))).toBe(true);
    expect(audit.some((i) => i.action === 'proxy' && i.result === 'method_not_allowed_by_profile')).toBe(true);
    expect(audit.some((i) => i.result === 'profile_not_found')).toBe(true);
    expect(findLeaks(itemMaterial(audit), secrets)).toEqual([]);
  });

  it('finds no canary in any stored item', async () => {
    const items = await scanAll(vault.deps.db);
    expect(items.filter((i) => i.entity === 'profile')).toHaveLength(5);
    expect(items.filter((i) => i.entity === 'grant')).toHaveLength(0); // every run ended: its grant item went with it
    expect(items.some((i) => i.entity === 'session')).toBe(true);
    expect(items.filter((i) => i.entity === 'run').length).toBeGreaterThanOrEqual(5);
    expect(findLeaks(itemMaterial(items), secrets)).toEqual([]);
  });

  it('finds no canary in any file under the data folders', () => {
    const files = [...filesUnder(vault.dataDir), ...filesUnder(dbDir)];
    const bytes = files.reduce((n, f) => n + statSync(f).size, 0);
    expect(files.length).toBeGreaterThanOrEqual(2);
    expect(bytes).toBeGreaterThan(1_000);
    const hits = files.flatMap((f) => findLeaks(readFileSync(f), secrets).map((h) => `${f}: ${h}`));
    expect(hits).toEqual([]);
  });
});
