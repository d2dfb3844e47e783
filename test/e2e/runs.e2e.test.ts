import { randomBytes, randomUUID } from 'node:crypto';
import { signerOf } from '#test/support/dynamo';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatToken, newToken, parseToken } from '#shared/crypto/token';
import { runRepository } from '#shared/repositories/runs';
import { verifySignature } from '#shared/runs/signature';
import { mintApiKey } from '#shared/services/api-keys';
import { type ReceivedCall, type RunnerBehaviour, startTestRunner } from '#test/support/runner';
import { startTestVault, type TestVault } from '#test/support/vault';

type Runner = Awaited<ReturnType<typeof startTestRunner>>;

let vault: TestVault;
let runner: Runner;
/** Per-agent runner behaviour, so tests never change each other's runner. */
const behaviours = new Map<string, RunnerBehaviour>();
const echo: RunnerBehaviour = ({ body }) => ({ body: { output: { echo: body?.parameters ?? null } } });

beforeAll(async () => {
  vault = await startTestVault();
  runner = await startTestRunner((call) => (behaviours.get(call.body?.agent_id) ?? echo)(call));
});

afterAll(async () => {
  await vault?.deps.dispatcher.drain();
  await runner?.close();
  await vault?.close();
});

const DEFAULT_ARGS = [{ name: 'username', required: true }, { name: 'password', required: true }, { name: 'query' }];

async function newAgent(opts: { inputArgs?: unknown[]; behaviour?: RunnerBehaviour; apiKey?: string; agentId?: string } = {}) {
  const agentId = opts.agentId ?? `agent-${randomBytes(6).toString('hex')}`;
  const res = await vault.call(
    'POST',
    '/v1/agents',
    { agent_id: agentId, name: 'Test agent', input_args: opts.inputArgs ?? DEFAULT_ARGS, runner: { type: 'webhook', url: runner.url } },
    { apiKey: opts.apiKey },
  );
  expect(res.status, res.text).toBe(201);
  if (opts.behaviour) behaviours.set(agentId, opts.behaviour);
  return { agentId, secret: res.json.runner_signing_secret as string };
}

async function upsert(agentId: string, body: Record<string, unknown>, apiKey?: string) {
  const res = await vault.call('POST', '/api/upsert_agent_auth_profile', { agent_id: agentId, ...body }, { apiKey });
  expect(res.status, res.text).toBe(200);
  return res.json as { auth_token: string; name: string; type: string };
}

async function newProfile(
  agentId: string,
  authData: Record<string, string> = { username: 'alice', password: 'pw-alice' },
  shouldSave = false,
  name = 'main',
) {
  return (await upsert(agentId, { name, auth_data: authData, should_save_session: shouldSave })).auth_token;
}

const run = (body: Record<string, unknown>, apiKey?: string) => vault.call('POST', '/run_agent', body, { apiKey });
const runSync = (body: Record<string, unknown>, apiKey?: string) => run({ run_async: false, ...body }, apiKey);
const getRun = (sessionId: string, apiKey?: string) => vault.call('GET', `/v1/runs/${sessionId}`, undefined, { apiKey });
const callsFor = (agentId: string): ReceivedCall[] => runner.calls.filter((c) => c.body?.agent_id === agentId);

/** A runner behaviour that holds every call until `release()`. */
function gate(answer: object) {
  let open!: () => void;
  const opened = new Promise<void>((r) => {
    open = r;
  });
  return {
    behaviour: (async () => {
      await opened;
      return { body: answer };
    }) as RunnerBehaviour,
    release: () => open(),
  };
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('POST /run_agent with run_async: false', () => {
  it("returns the runner's output", async () => {
    const { agentId } = await newAgent({ behaviour: () => ({ body: { output: { answer: 42 } } }) });
    const token = await newProfile(agentId);

    const res = await runSync({ agent_id: agentId, auth_token: token });

    expect(res.status).toBe(200);
    expect(res.json.agent_output).toEqual({ answer: 42 });
    expect(res.json.session_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(res.json.error_message).toBeUndefined();
  });

  it('returns agent_run_url as the absolute URL of GET /v1/runs/{session_id}', async () => {
    const { agentId } = await newAgent();
    const token = await newProfile(agentId);

    const res = await runSync({ agent_id: agentId, auth_token: token });

    expect(res.json.agent_run_url).toBe(`${vault.url}/v1/runs/${res.json.session_id}`);
  });

  it('records the run so that GET agent_run_url shows it succeeded with the same output', async () => {
    const { agentId } = await newAgent({ behaviour: () => ({ body: { output: 'done' } }) });
    const token = await newProfile(agentId);
    const started = await runSync({ agent_id: agentId, auth_token: token });

    const res = await fetch(started.json.agent_run_url, { headers: { authorization: `Bearer ${vault.apiKey}` } });
    const status = (await res.json()) as Record<string, unknown>;

    expect(res.status).toBe(200);
    expect(status).toMatchObject({ session_id: started.json.session_id, agent_id: agentId, status: 'succeeded', agent_output: 'done' });
    expect(typeof status.created_at).toBe('string');
    expect(typeof status.finished_at).toBe('string');
  });

  it('is served under the /api/run_agent alias too', async () => {
    const { agentId } = await newAgent({ behaviour: () => ({ body: { output: 'alias' } }) });
    const token = await newProfile(agentId);

    const res = await vault.call('POST', '/api/run_agent', { agent_id: agentId, auth_token: token, run_async: false });

    expect(res.status).toBe(200);
    expect(res.json.agent_output).toBe('alias');
  });
});

describe('POST /run_agent asynchronously (the default)', () => {
  it('answers with agent_run_url and session_id only, before the runner has answered', async () => {
    const g = gate({ output: 'late' });
    const { agentId } = await newAgent({ behaviour: g.behaviour });
    const token = await newProfile(agentId);

    const res = await run({ agent_id: agentId, auth_token: token });
    g.release();
    await vault.deps.dispatcher.drain();

    expect(res.status).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual(['agent_run_url', 'session_id']);
    expect(res.json.agent_run_url).toBe(`${vault.url}/v1/runs/${res.json.session_id}`);
  });

  it('shows the run as queued or running while the runner works, running once the runner has the call', async () => {
    const g = gate({ output: 'late' });
    const { agentId } = await newAgent({ behaviour: g.behaviour });
    const token = await newProfile(agentId);
    const { json } = await run({ agent_id: agentId, auth_token: token });

    const early = await getRun(json.session_id);
    await waitFor(() => callsFor(agentId).length === 1, 'the runner call');
    const during = await getRun(json.session_id);
    g.release();
    await vault.deps.dispatcher.drain();

    expect(['queued', 'running']).toContain(early.json.status);
    expect(during.json.status).toBe('running');
    expect(during.json.agent_output).toBeUndefined();
  });

  it('shows the run as succeeded with the output once the runner has answered', async () => {
    const g = gate({ output: { result: 'late' } });
    const { agentId } = await newAgent({ behaviour: g.behaviour });
    const token = await newProfile(agentId);
    const { json } = await run({ agent_id: agentId, auth_token: token });

    g.release();
    await vault.deps.dispatcher.drain();
    const res = await getRun(json.session_id);

    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      session_id: json.session_id,
      agent_id: agentId,
      status: 'succeeded',
      agent_output: { result: 'late' },
    });
    expect(typeof res.json.finished_at).toBe('string');
  });

  it('reaches succeeded when polled (bounded loop, no drain)', async () => {
    const { agentId } = await newAgent({ behaviour: () => ({ body: { output: 'polled' } }) });
    const token = await newProfile(agentId);
    const { json } = await run({ agent_id: agentId, auth_token: token });

    let last: { status: number; json: any } = await getRun(json.session_id);
    for (let i = 0; i < 200 && !['succeeded', 'failed'].includes(last.json?.status); i++) {
      await new Promise((r) => setTimeout(r, 10));
      last = await getRun(json.session_id);
    }

    expect(last.json).toMatchObject({ status: 'succeeded', agent_output: 'polled' });
  });
});

describe('what the runner receives', () => {
  it('gets exactly {session_id, agent_id, parameters, session}', async () => {
    const { agentId } = await newAgent();
    const token = await newProfile(agentId);

    const res = await runSync({ agent_id: agentId, auth_token: token, parameters: { query: 'q' } });

    const [received] = callsFor(agentId);
    expect(Object.keys(received?.body ?? {}).sort()).toEqual(['agent_id', 'parameters', 'session', 'session_id']);
    expect(received?.body.session_id).toBe(res.json.session_id);
    expect(received?.body.agent_id).toBe(agentId);
    expect(received?.body.session).toBeNull();
  });

  it("gets the profile's auth_data merged with the caller's parameters", async () => {
    const { agentId } = await newAgent();
    const token = await newProfile(agentId, { username: 'bob', password: 'pw-bob' });

    await runSync({ agent_id: agentId, auth_token: token, parameters: { query: 'find things' } });

    expect(callsFor(agentId)[0]?.body.parameters).toEqual({ username: 'bob', password: 'pw-bob', query: 'find things' });
  });

  it('gets the merged parameters on an async run too', async () => {
    const { agentId } = await newAgent();
    const token = await newProfile(agentId, { username: 'carol', password: 'pw-carol' });

    await run({ agent_id: agentId, auth_token: token, parameters: { query: 'async' } });
    await vault.deps.dispatcher.drain();

    expect(callsFor(agentId)[0]?.body.parameters).toEqual({ username: 'carol', password: 'pw-carol', query: 'async' });
  });

  it('gets the parameters alone when the run has no auth_token', async () => {
    const { agentId } = await newAgent({ inputArgs: [{ name: 'query', required: true }, { name: 'limit' }] });

    const res = await runSync({ agent_id: agentId, parameters: { query: 'q', limit: 3 } });

    expect(res.status).toBe(200);
    expect(callsFor(agentId)[0]?.body.parameters).toEqual({ query: 'q', limit: 3 });
    expect(callsFor(agentId)[0]?.body.session).toBeNull();
  });

  it('gets a signature that verifies with the runner_signing_secret over the raw body', async () => {
    const { agentId, secret } = await newAgent();
    const token = await newProfile(agentId);

    await runSync({ agent_id: agentId, auth_token: token });

    const [received] = callsFor(agentId);
    expect(verifySignature(secret, received?.rawBody ?? '', received?.headers['x-agent-vault-signature'] as string)).toBe(true);
  });

  it('gets non-ASCII credentials intact, under a signature that still verifies', async () => {
    const { agentId, secret } = await newAgent();
    const token = await newProfile(agentId, { username: 'jürgen', password: 'pässwörd-🔑-密码' });

    await runSync({ agent_id: agentId, auth_token: token });

    const [received] = callsFor(agentId);
    expect(received?.body.parameters).toEqual({ username: 'jürgen', password: 'pässwörd-🔑-密码' });
    expect(verifySignature(secret, received?.rawBody ?? '', received?.headers['x-agent-vault-signature'] as string)).toBe(true);
  });

  it('gets a signature that does not verify with a wrong secret', async () => {
    const { agentId, secret } = await newAgent();
    const other = await newAgent();
    const token = await newProfile(agentId);

    await runSync({ agent_id: agentId, auth_token: token });

    const [received] = callsFor(agentId);
    const header = received?.headers['x-agent-vault-signature'] as string;
    expect(verifySignature(`${secret}x`, received?.rawBody ?? '', header)).toBe(false);
    expect(verifySignature(other.secret, received?.rawBody ?? '', header)).toBe(false);
  });

  it('gets a signature made with the new secret after rotate-signing-secret, not with the old one', async () => {
    const { agentId, secret: oldSecret } = await newAgent();
    const token = await newProfile(agentId);
    const rotated = await vault.call('POST', `/v1/agents/${agentId}/rotate-signing-secret`);
    expect(rotated.status).toBe(200);
    const newSecret = rotated.json.runner_signing_secret as string;

    await runSync({ agent_id: agentId, auth_token: token });

    const [received] = callsFor(agentId);
    const header = received?.headers['x-agent-vault-signature'] as string;
    expect(newSecret).not.toBe(oldSecret);
    expect(verifySignature(newSecret, received?.rawBody ?? '', header)).toBe(true);
    expect(verifySignature(oldSecret, received?.rawBody ?? '', header)).toBe(false);
  });
});

describe('saved sessions', () => {
  const counter: RunnerBehaviour = ({ body }) => {
    const n = ((body?.session as { count?: number } | null)?.count ?? 0) + 1;
    return { body: { output: { count: n }, session: { count: n } } };
  };

  it('sends the session the runner returned back on the next run (1, 2, 3)', async () => {
    const { agentId } = await newAgent({ behaviour: counter });
    const token = await newProfile(agentId, undefined, true);

    const outputs = [];
    for (let i = 0; i < 3; i++) outputs.push((await runSync({ agent_id: agentId, auth_token: token })).json.agent_output);

    expect(outputs).toEqual([{ count: 1 }, { count: 2 }, { count: 3 }]);
    expect(callsFor(agentId).map((c) => c.body.session)).toEqual([null, { count: 1 }, { count: 2 }]);
  });

  it('keeps the session across async runs', async () => {
    const { agentId } = await newAgent({ behaviour: counter });
    const token = await newProfile(agentId, undefined, true);

    await run({ agent_id: agentId, auth_token: token });
    await vault.deps.dispatcher.drain();
    const second = await runSync({ agent_id: agentId, auth_token: token });

    expect(second.json.agent_output).toEqual({ count: 2 });
  });

  it('sends no session when the profile does not save sessions', async () => {
    const { agentId } = await newAgent({ behaviour: counter });
    const token = await newProfile(agentId, undefined, false);

    await runSync({ agent_id: agentId, auth_token: token });
    const second = await runSync({ agent_id: agentId, auth_token: token });

    expect(second.json.agent_output).toEqual({ count: 1 });
    expect(callsFor(agentId).map((c) => c.body.session)).toEqual([null, null]);
  });

  it('drops the session when the profile is replaced (the next run gets session null)', async () => {
    const { agentId } = await newAgent({ behaviour: counter });
    const token = await newProfile(agentId, undefined, true);
    await runSync({ agent_id: agentId, auth_token: token });
    await runSync({ agent_id: agentId, auth_token: token });

    const replaced = await upsert(agentId, { name: 'main', auth_data: { username: 'alice', password: 'pw-new' } });
    const res = await runSync({ agent_id: agentId, auth_token: replaced.auth_token });

    expect(replaced.type).toBe('replace');
    expect(callsFor(agentId).at(-1)?.body.session).toBeNull();
    expect(res.json.agent_output).toEqual({ count: 1 });
  });

  it('saves sessions again after a replace, over the dropped one (1, 2 with the new token)', async () => {
    const { agentId } = await newAgent({ behaviour: counter });
    const token = await newProfile(agentId, undefined, true);
    await runSync({ agent_id: agentId, auth_token: token });
    await runSync({ agent_id: agentId, auth_token: token });
    const replaced = await upsert(agentId, { name: 'main', auth_data: { username: 'alice', password: 'pw-new' } });

    await runSync({ agent_id: agentId, auth_token: replaced.auth_token });
    const res = await runSync({ agent_id: agentId, auth_token: replaced.auth_token });

    expect(res.json.agent_output).toEqual({ count: 2 });
  });

  it('keeps the session when the profile is updated in place (same token)', async () => {
    const { agentId } = await newAgent({ behaviour: counter });
    const token = await newProfile(agentId, undefined, true);
    await runSync({ agent_id: agentId, auth_token: token });

    const updated = await upsert(agentId, { auth_token: token, auth_data: { password: 'pw-rotated' } });
    const res = await runSync({ agent_id: agentId, auth_token: token });

    expect(updated.type).toBe('update');
    expect(res.json.agent_output).toEqual({ count: 2 });
  });

  it('fails a run whose returned session is over 256 KiB, with a clear error', async () => {
    const { agentId } = await newAgent({
      behaviour: ({ body }) =>
        body?.parameters?.query === 'big'
          ? { body: { output: 'big', session: { blob: 'x'.repeat(256 * 1024) } } }
          : counter({ body } as ReceivedCall),
    });
    const token = await newProfile(agentId, undefined, true);

    const res = await runSync({ agent_id: agentId, auth_token: token, parameters: { query: 'big' } });
    const stored = await getRun(res.json.session_id);

    expect(res.json.error_message).toMatch(/session.*256 KiB/);
    expect(stored.json.status).toBe('failed');
    expect(stored.json.error_message).toMatch(/256 KiB/);
  });

  it('keeps the previous session when a returned session is over 256 KiB', async () => {
    const { agentId } = await newAgent({
      behaviour: ({ body }) =>
        body?.parameters?.query === 'big'
          ? { body: { output: 'big', session: { blob: 'x'.repeat(300 * 1024) } } }
          : counter({ body } as ReceivedCall),
    });
    const token = await newProfile(agentId, undefined, true);
    await runSync({ agent_id: agentId, auth_token: token });

    await runSync({ agent_id: agentId, auth_token: token, parameters: { query: 'big' } });
    const after = await runSync({ agent_id: agentId, auth_token: token });

    expect(callsFor(agentId).at(-1)?.body.session).toEqual({ count: 1 });
    expect(after.json.agent_output).toEqual({ count: 2 });
  });
});

describe('auth tokens that do not open a profile', () => {
  it('answers 404 profile_not_found with one body for wrong, replaced, deleted and other-agent tokens, calling no runner', async () => {
    const { agentId } = await newAgent();
    const other = await newAgent();
    const current = await newProfile(agentId, undefined, false, 'current');
    const wrong = newToken(parseToken(current).slot).token;
    const replacedOld = await newProfile(agentId, undefined, false, 'replaced');
    await upsert(agentId, { name: 'replaced', auth_data: { username: 'u', password: 'p2' } });
    const deleted = await newProfile(agentId, undefined, false, 'deleted');
    expect((await vault.call('DELETE', `/v1/agents/${agentId}/auth-profiles/deleted`)).status).toBe(204);
    const otherAgents = await newProfile(other.agentId, undefined, false, 'current');
    const callsBefore = runner.calls.length;

    const answers = [];
    for (const token of [wrong, replacedOld, deleted, otherAgents]) answers.push(await runSync({ agent_id: agentId, auth_token: token }));

    for (const a of answers) expect(a.status).toBe(404);
    expect(answers[0]?.json.error.code).toBe('profile_not_found');
    for (const a of answers) expect(a.text).toBe(answers[0]?.text);
    expect(runner.calls.length).toBe(callsBefore);
  });

  it('answers the same 404 for a token with an unknown slot', async () => {
    const { agentId } = await newAgent();
    const known = await newProfile(agentId);
    const wrong = newToken(parseToken(known).slot).token;
    const unknownSlot = formatToken(randomBytes(16), randomBytes(32));

    const a = await runSync({ agent_id: agentId, auth_token: wrong });
    const b = await runSync({ agent_id: agentId, auth_token: unknownSlot });

    expect(b.status).toBe(404);
    expect(b.text).toBe(a.text);
    expect(callsFor(agentId)).toHaveLength(0);
  });

  it('answers 404 on an async run too, before anything is queued', async () => {
    const { agentId } = await newAgent();
    const token = await newProfile(agentId);
    const wrong = newToken(parseToken(token).slot).token;

    const res = await run({ agent_id: agentId, auth_token: wrong });
    await vault.deps.dispatcher.drain();

    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('profile_not_found');
    expect(callsFor(agentId)).toHaveLength(0);
  });

  it('answers a token in another format (a UUID, a Kura token, a mistyped one) exactly as an unknown token: 404 profile_not_found (docs/api.md, "Kura drop-in")', async () => {
    const { agentId } = await newAgent();
    const token = await newProfile(agentId);
    const unknown = formatToken(randomBytes(16), randomBytes(32));
    const typo = token.slice(0, -1) + (token.at(-1) === 'A' ? 'B' : 'A');
    const foreign = [randomUUID(), 'avt_not-a-token', `kura_${randomBytes(24).toString('hex')}`, typo];

    const expected = await runSync({ agent_id: agentId, auth_token: unknown });
    const answers = [];
    for (const t of foreign) answers.push(await runSync({ agent_id: agentId, auth_token: t }));
    const asyncAnswer = await run({ agent_id: agentId, auth_token: randomUUID() });
    await vault.deps.dispatcher.drain();

    expect(expected.status).toBe(404);
    expect(expected.json.error.code).toBe('profile_not_found');
    for (const a of [...answers, asyncAnswer]) expect({ status: a.status, text: a.text }).toEqual({ status: 404, text: expected.text });
    expect(callsFor(agentId)).toHaveLength(0);
  });

  it('answers a token in another format for an unknown agent as a well-formed one: 404 agent_not_found', async () => {
    const missing = `missing-${randomUUID()}`;

    const wellFormed = await runSync({ agent_id: missing, auth_token: formatToken(randomBytes(16), randomBytes(32)) });
    const uuid = await runSync({ agent_id: missing, auth_token: randomUUID() });

    expect(wellFormed.json.error.code).toBe('agent_not_found');
    expect({ status: uuid.status, text: uuid.text }).toEqual({ status: wellFormed.status, text: wellFormed.text });
  });

  it('answers 404 agent_not_found for an unknown agent', async () => {
    const res = await runSync({ agent_id: `missing-${randomUUID()}` });

    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('agent_not_found');
  });
});

describe('parameter checks', () => {
  it('answers 400 parameter_conflict when a parameter is also in auth_data, before any runner call', async () => {
    const { agentId } = await newAgent();
    const token = await newProfile(agentId);

    const res = await runSync({ agent_id: agentId, auth_token: token, parameters: { password: 'override' } });

    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('parameter_conflict');
    expect(res.json.error.message).toContain('"password"');
    expect(callsFor(agentId)).toHaveLength(0);
  });

  it('answers 400 parameter_conflict on an async run too, before anything is queued', async () => {
    const { agentId } = await newAgent();
    const token = await newProfile(agentId);

    const res = await run({ agent_id: agentId, auth_token: token, parameters: { username: 'x' } });
    await vault.deps.dispatcher.drain();

    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('parameter_conflict');
    expect(callsFor(agentId)).toHaveLength(0);
  });

  it('answers 400 missing_input_args naming the missing required argument, before any runner call', async () => {
    const { agentId } = await newAgent();
    const token = await newProfile(agentId, { username: 'only-user' });

    const res = await runSync({ agent_id: agentId, auth_token: token });

    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('missing_input_args');
    expect(res.json.error.message).toContain('"password"');
    expect(res.json.error.message).not.toContain('"username"');
    expect(callsFor(agentId)).toHaveLength(0);
  });

  it('treats a required argument passed as null as missing', async () => {
    const { agentId } = await newAgent({ inputArgs: [{ name: 'query', required: true }] });

    const res = await runSync({ agent_id: agentId, parameters: { query: null } });

    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('missing_input_args');
    expect(callsFor(agentId)).toHaveLength(0);
  });

  it('answers 400 naming an unknown parameter key, before any runner call', async () => {
    const { agentId } = await newAgent();
    const token = await newProfile(agentId);

    const res = await runSync({ agent_id: agentId, auth_token: token, parameters: { nonsense: 1 } });

    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('unknown_input_args');
    expect(res.json.error.message).toContain('"nonsense"');
    expect(callsFor(agentId)).toHaveLength(0);
  });

  it('answers 400 missing_input_args for a run without auth_token missing a required argument', async () => {
    const { agentId } = await newAgent();

    const res = await runSync({ agent_id: agentId, parameters: { username: 'u' } });

    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('missing_input_args');
    expect(callsFor(agentId)).toHaveLength(0);
  });
});

describe('GET /v1/runs/{session_id}', () => {
  it("answers 404 for another tenant's run, with the same body as for an unknown run", async () => {
    const { agentId } = await newAgent();
    const token = await newProfile(agentId);
    const { json } = await runSync({ agent_id: agentId, auth_token: token });
    const otherKey = await mintApiKey(vault.deps, 'globex');

    const unknown = randomUUID();

    const res = await getRun(json.session_id, otherKey);
    const missing = await getRun(unknown, otherKey);
    const ownerSees = await getRun(json.session_id);

    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('run_not_found');
    expect(res.text).toBe(missing.text.replace(unknown, json.session_id));
    expect(ownerSees.status).toBe(200);
  });

  it('answers 404 for an unknown session id', async () => {
    const res = await getRun(randomUUID());

    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('run_not_found');
  });

  it('answers 404 for a session id that is not a UUID', async () => {
    const res = await getRun('not-a-session');

    expect(res.status).toBe(404);
  });

  it('answers 404 for a run whose expires_at has passed (even before TTL deletes it)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = randomUUID();
    const live = randomUUID();
    const base = { tenant: 'acme', agent_id: 'any-agent', status: 'succeeded' as const, created_at: new Date().toISOString() };
    await runRepository(vault.deps.db, signerOf(vault.deps)).create({ ...base, session_id: expired, expires_at: now - 60 });
    await runRepository(vault.deps.db, signerOf(vault.deps)).create({ ...base, session_id: live, expires_at: now + 3600 });

    const gone = await getRun(expired);
    const there = await getRun(live);

    expect(gone.status).toBe(404);
    expect(gone.json.error.code).toBe('run_not_found');
    expect(there.status).toBe(200);
  });
});

describe('tenants', () => {
  it("cannot run another tenant's agent", async () => {
    const { agentId } = await newAgent();
    const token = await newProfile(agentId);
    const otherKey = await mintApiKey(vault.deps, 'initech');

    const res = await runSync({ agent_id: agentId, auth_token: token }, otherKey);

    expect(res.status).toBe(404);
    expect(callsFor(agentId)).toHaveLength(0);
  });

  it("cannot use another tenant's token on its own agent of the same id", async () => {
    const { agentId } = await newAgent();
    const token = await newProfile(agentId);
    const otherKey = await mintApiKey(vault.deps, 'umbrella');
    await newAgent({ agentId, apiKey: otherKey });
    const callsBefore = runner.calls.length;

    const res = await runSync({ agent_id: agentId, auth_token: token }, otherKey);

    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('profile_not_found');
    expect(runner.calls.length).toBe(callsBefore);
  });
});

describe('profile usage metadata', () => {
  it('advances use_count and sets last_used_at with each run', async () => {
    const { agentId } = await newAgent();
    const token = await newProfile(agentId);
    const before = await vault.call('GET', `/v1/agents/${agentId}/auth-profiles/main`);

    await runSync({ agent_id: agentId, auth_token: token });
    await runSync({ agent_id: agentId, auth_token: token });
    await run({ agent_id: agentId, auth_token: token });
    await vault.deps.dispatcher.drain();
    const after = await vault.call('GET', `/v1/agents/${agentId}/auth-profiles/main`);

    expect(before.json.use_count).toBe(0);
    expect(before.json.last_used_at).toBeUndefined();
    expect(after.json.use_count).toBe(3);
    expect(Date.parse(after.json.last_used_at)).toBeGreaterThanOrEqual(Date.parse(before.json.created_at));
  });

  it('moves last_used_at forward on a later run', async () => {
    const { agentId } = await newAgent();
    const token = await newProfile(agentId);
    await runSync({ agent_id: agentId, auth_token: token });
    const first = (await vault.call('GET', `/v1/agents/${agentId}/auth-profiles/main`)).json.last_used_at as string;
    await new Promise((r) => setTimeout(r, 5));

    await runSync({ agent_id: agentId, auth_token: token });
    const second = (await vault.call('GET', `/v1/agents/${agentId}/auth-profiles/main`)).json.last_used_at as string;

    expect(Date.parse(second)).toBeGreaterThan(Date.parse(first));
  });
});

describe('leak guard', () => {
  const USER = 'canary-user-Zq81x';
  const PASSWORD = 'canary-pw-7Hk2mQ9';
  const leaky: RunnerBehaviour = ({ body }) => {
    const p = body?.parameters ?? {};
    return {
      body: {
        output: { msg: `logged in as ${p.username} with ${p.password}`, [p.password]: [p.password, { deep: `pw:${p.password}` }] },
        error: `login failed for ${p.username}: ${p.password} rejected`,
      },
    };
  };

  const expectRedacted = (value: unknown) => {
    const text = JSON.stringify(value);
    expect(text).toContain('[REDACTED]');
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(USER);
  };

  it('redacts credentials echoed in output and error of a sync run response', async () => {
    const { agentId } = await newAgent({ behaviour: leaky });
    const token = await newProfile(agentId, { username: USER, password: PASSWORD });

    const res = await runSync({ agent_id: agentId, auth_token: token });

    expect(res.status).toBe(200);
    expectRedacted(res.json.agent_output);
    expectRedacted(res.json.error_message);
    expect(res.text).not.toContain(PASSWORD);
  });

  it('redacts credentials in the stored run that GET /v1/runs returns', async () => {
    const { agentId } = await newAgent({ behaviour: leaky });
    const token = await newProfile(agentId, { username: USER, password: PASSWORD });
    const { json } = await runSync({ agent_id: agentId, auth_token: token });

    const res = await getRun(json.session_id);

    expect(res.json.status).toBe('failed');
    expectRedacted(res.json.agent_output);
    expectRedacted(res.json.error_message);
    expect(res.text).not.toContain(PASSWORD);
  });

  it('redacts credentials in an async run', async () => {
    const { agentId } = await newAgent({ behaviour: leaky });
    const token = await newProfile(agentId, { username: USER, password: PASSWORD });
    const { json } = await run({ agent_id: agentId, auth_token: token });
    await vault.deps.dispatcher.drain();

    const res = await getRun(json.session_id);

    expectRedacted(res.json.agent_output);
    expectRedacted(res.json.error_message);
    expect(res.text).not.toContain(PASSWORD);
  });
});

describe('logs', () => {
  it('never contain a credential, auth token, signing secret, session or API key during a full flow', async () => {
    const from = vault.logs.length;
    const canaries = {
      username: `canary-login-${randomBytes(6).toString('hex')}`,
      password: `canary-secret-${randomBytes(6).toString('hex')}`,
    };
    const sessionCanary = `canary-session-${randomBytes(6).toString('hex')}`;
    const { agentId, secret: firstSecret } = await newAgent({
      behaviour: (call) => {
        if (call.body?.parameters?.query === 'fail') return { status: 500, body: { error: canaries.password } };
        return { body: { output: { got: call.body?.parameters }, session: { cookie: sessionCanary }, error: `echo ${canaries.password}` } };
      },
    });
    const created = await vault.call('POST', '/api/create_agent_auth_profile', { agent_id: agentId, name: 'canary', auth_data: canaries });
    const firstToken = created.json.auth_token as string;
    const replaced = await upsert(agentId, { name: 'canary', auth_data: canaries, should_save_session: true });
    const token = replaced.auth_token;
    await upsert(agentId, { auth_token: token, auth_data: { password: canaries.password } });
    const sync = await runSync({ agent_id: agentId, auth_token: token });
    await runSync({ agent_id: agentId, auth_token: token, parameters: { query: 'fail' } });
    const asyncRun = await run({ agent_id: agentId, auth_token: token });
    await vault.deps.dispatcher.drain();
    await getRun(sync.json.session_id);
    await getRun(asyncRun.json.session_id);
    await runSync({ agent_id: agentId, auth_token: firstToken }); // replaced token: 404
    await runSync({ agent_id: agentId, auth_token: `${token}x` }); // malformed: 400
    await runSync({ agent_id: agentId, auth_token: token, parameters: { password: canaries.password } }); // conflict: 400
    await vault.call('POST', '/run_agent', undefined, { raw: `{"agent_id":"${agentId}","auth_token":"${token}",` }); // broken JSON
    const rotated = await vault.call('POST', `/v1/agents/${agentId}/rotate-signing-secret`);
    await run({ agent_id: agentId, auth_token: token });
    await vault.deps.dispatcher.drain();
    await vault.call('GET', `/v1/agents/${agentId}/auth-profiles/canary`);
    await vault.call('GET', `/v1/agents/${agentId}/auth-profiles`);
    await vault.call('DELETE', `/v1/agents/${agentId}?force=true`);

    const secrets = [
      canaries.username,
      canaries.password,
      sessionCanary,
      firstToken,
      token,
      firstSecret,
      rotated.json.runner_signing_secret as string,
      vault.apiKey,
    ];
    const forms = (s: string) => {
      const b = Buffer.from(s, 'utf8');
      return [s, b.toString('base64'), b.toString('base64url'), b.toString('hex'), encodeURIComponent(s)];
    };
    const tokenBodies = [firstToken, token].flatMap((t) => {
      const { secret } = parseToken(t);
      return [t.slice(4), secret.toString('hex'), secret.toString('base64'), secret.toString('base64url')];
    });
    const needles = [...secrets.flatMap(forms), ...tokenBodies];
    const lines = vault.logs.slice(from);

    expect(lines.length).toBeGreaterThan(10);
    for (const needle of needles) {
      const hit = lines.find((l) => l.includes(needle));
      expect(hit, `log line contains a secret: ${hit}`).toBeUndefined();
    }
  });
});
