import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '#infra/local/embedded-dynamo';
import { startTestVault, type TestVault } from '#test/support/vault';
import { emfMetrics, setMetricsSink } from '#shared/metrics';

/**
 * Runs a full flow over HTTP with distinctive canary values, then searches everything the vault
 * keeps — every attribute of every item (a table Scan), every file under the data folders, every
 * log line — for the canaries, the auth tokens and the tokens' secret bytes in several encodings.
 * Positive controls (a value that IS stored in plaintext) prove the search would find a hit.
 */

interface Needle {
  readonly label: string;
  readonly bytes: Buffer;
}

/** base64 / base64url text of `b` as it would appear at any alignment inside a longer encoding. */
function base64Forms(b: Buffer, label: string): Needle[] {
  const out: Needle[] = [];
  for (const enc of ['base64', 'base64url'] as const) {
    for (let skip = 0; skip < 3; skip++) {
      const sub = b.subarray(skip);
      const text = sub.toString(enc).slice(0, Math.floor(sub.length / 3) * 4);
      if (text.length >= 16) out.push({ label: `${label} (${enc}, offset ${skip})`, bytes: Buffer.from(text) });
    }
  }
  return out;
}

/** The raw bytes, their hex (both cases) and base64/base64url forms. */
function formsOfBytes(b: Buffer, label: string): Needle[] {
  return [
    { label: `${label} (raw)`, bytes: b },
    { label: `${label} (hex)`, bytes: Buffer.from(b.toString('hex')) },
    { label: `${label} (HEX)`, bytes: Buffer.from(b.toString('hex').toUpperCase()) },
    ...base64Forms(b, label),
  ];
}

const formsOfString = (s: string, label: string) => formsOfBytes(Buffer.from(s, 'utf8'), label);

/** avt_ + base64url(slot 16 ‖ secret 32 ‖ crc 4): the secret, decoded by position. */
function tokenSecret(token: string): Buffer {
  const body = Buffer.from(token.slice('avt_'.length), 'base64url');
  expect(body).toHaveLength(52);
  return body.subarray(16, 48);
}

function hitsIn(haystack: Buffer, needles: readonly Needle[], where: string): string[] {
  return needles.filter((n) => haystack.includes(n.bytes)).map((n) => `${n.label} in ${where}`);
}

/** Every byte string inside an attribute value: strings, numbers, binaries, sets, maps, lists, and map keys. */
function* leaves(v: AttributeValue, path: string): Generator<[string, Buffer, string]> {
  if (v.S !== undefined) yield [path, Buffer.from(v.S, 'utf8'), 'S'];
  else if (v.N !== undefined) yield [path, Buffer.from(v.N, 'utf8'), 'N'];
  else if (v.B !== undefined) yield [path, Buffer.from(v.B), 'B'];
  else if (v.SS) for (const s of v.SS) yield [path, Buffer.from(s, 'utf8'), 'SS'];
  else if (v.NS) for (const n of v.NS) yield [path, Buffer.from(n, 'utf8'), 'NS'];
  else if (v.BS) for (const b of v.BS) yield [path, Buffer.from(b), 'BS'];
  else if (v.M)
    for (const [k, child] of Object.entries(v.M)) {
      yield [`${path}{key}`, Buffer.from(k, 'utf8'), 'key'];
      yield* leaves(child, `${path}.${k}`);
    }
  else if (v.L) for (const [i, child] of v.L.entries()) yield* leaves(child, `${path}[${i}]`);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

let dynamo: EmbeddedDynamo;
let dynamoDir: string;
let vault: TestVault;

const tag = randomBytes(6).toString('hex');
const canaries = {
  username1: `canary-user-${tag}`,
  password1: `canary-pw-${tag}-one`,
  password2: `canary-pw-${tag}-two`,
  otp: `canary-otp-${tag}`,
  password3: `canary-pw-${tag}-three-ü€😀`,
  username3: `canary-user-${tag}-replaced`,
  apiSecret: `canary-api-${tag}-${randomBytes(16).toString('base64url')}`,
  refusedUpdate: `canary-pw-${tag}-refused`,
  conflicting: `canary-pw-${tag}-conflict`,
  unknownKey: `canary-pw-${tag}-unknown-key`,
  tooLarge: `canary-pw-${tag}-too-large`,
};
const control = `control-agent-name-${tag}`;
const secrets = { tokens: [] as string[], signingSecrets: [] as string[] };
const responseTexts: { what: string; text: string }[] = [];
/** The EMF metric lines the requests wrote (shared/metrics.ts), as on AWS. */
const emfLines: string[] = [];

beforeAll(async () => {
  // As inside Lambda: the logger carries the Lambda context and correlation id, metrics are written as EMF.
  process.env.AWS_LAMBDA_FUNCTION_NAME = 'agent-vault-leak-scan';
  setMetricsSink(emfMetrics({ write: (line) => emfLines.push(line) }));
  dynamoDir = mkdtempSync(join(tmpdir(), 'agent-vault-leak-'));
  dynamo = await startEmbeddedDynamo(dynamoDir);
  vault = await startTestVault({ VAULT_DYNAMODB_ENDPOINT: dynamo.endpoint, VAULT_TABLE_NAME: `leak${tag}` });

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await vault.call(method, path, body);
    responseTexts.push({ what: `${method} ${path} → ${res.status}`, text: res.text });
    return res;
  };
  const agent = await call('POST', '/v1/agents', {
    agent_id: 'leak-bot',
    name: control,
    input_args: [{ name: 'username' }, { name: 'password' }, { name: 'otp_seed' }, { name: 'api_secret' }],
    runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
  });
  expect(agent.status).toBe(201);
  secrets.signingSecrets.push(agent.json.runner_signing_secret);
  const rotated = await call('POST', '/v1/agents/leak-bot/rotate-signing-secret');
  secrets.signingSecrets.push(rotated.json.runner_signing_secret);

  const created = await call('POST', '/api/create_agent_auth_profile', {
    name: 'main',
    agent_id: 'leak-bot',
    auth_data: { username: canaries.username1, password: canaries.password1 },
  });
  expect(created.status).toBe(200);
  const first = created.json.auth_token as string;

  const updated = await call('POST', '/api/upsert_agent_auth_profile', {
    agent_id: 'leak-bot',
    auth_token: first,
    auth_data: { password: canaries.password2, otp_seed: canaries.otp },
  });
  expect(updated.json.type).toBe('update');

  const replaced = await call('POST', '/api/upsert_agent_auth_profile', {
    agent_id: 'leak-bot',
    name: 'main',
    auth_data: { username: canaries.username3, password: canaries.password3 },
  });
  expect(replaced.json.type).toBe('replace');

  const second = await call('POST', '/api/upsert_agent_auth_profile', {
    agent_id: 'leak-bot',
    name: 'backup',
    should_save_session: true,
    auth_data: { api_secret: canaries.apiSecret },
  });
  expect(second.json.type).toBe('create');
  secrets.tokens.push(first, replaced.json.auth_token, second.json.auth_token);

  // Refused requests carrying canaries: they must leave no trace either.
  expect(
    (
      await call('POST', '/api/upsert_agent_auth_profile', {
        agent_id: 'leak-bot',
        auth_token: first,
        auth_data: { password: canaries.refusedUpdate },
      })
    ).status,
  ).toBe(404);
  expect(
    (
      await call('POST', '/api/create_agent_auth_profile', {
        name: 'main',
        agent_id: 'leak-bot',
        auth_data: { password: canaries.conflicting },
      })
    ).status,
  ).toBe(409);
  expect(
    (await call('POST', '/api/create_agent_auth_profile', { name: 'x', agent_id: 'leak-bot', auth_data: { otp: canaries.unknownKey } }))
      .status,
  ).toBe(400);
  expect(
    (
      await call('POST', '/api/create_agent_auth_profile', {
        name: 'y',
        agent_id: 'leak-bot',
        auth_data: { password: canaries.tooLarge + 'x'.repeat(16 * 1024) },
      })
    ).status,
  ).toBe(413);
  expect(
    (
      await call('POST', '/api/upsert_agent_auth_profile', {
        agent_id: 'leak-bot',
        auth_token: `${first.slice(0, -2)}zz`,
        auth_data: { password: canaries.refusedUpdate },
      })
    ).status,
    // A mistyped token finds no profile: the compatible upsert's 404 (docs/api.md, "Kura drop-in").
  ).toBe(404);

  await call('GET', '/v1/agents/leak-bot/auth-profiles');
  await call('GET', '/v1/agents/leak-bot/auth-profiles/main');
  await call('GET', '/v1/agents/leak-bot');
});

afterAll(async () => {
  delete process.env.AWS_LAMBDA_FUNCTION_NAME;
  setMetricsSink(undefined);
  await vault?.close();
  await dynamo?.close();
});

/** Everything that must never be found in storage or logs. */
function secretNeedles(): Needle[] {
  return [
    ...Object.entries(canaries).flatMap(([k, v]) => formsOfString(v, `canary ${k}`)),
    ...secrets.tokens.flatMap((t, i) => [
      ...formsOfString(t, `auth token ${i}`),
      ...formsOfBytes(tokenSecret(t), `token ${i} secret bytes`),
    ]),
    ...secrets.signingSecrets.flatMap((s, i) => formsOfString(s, `runner signing secret ${i}`)),
    ...formsOfString(vault.apiKey, 'API key'),
  ];
}

const controlNeedles = (): Needle[] => [{ label: 'control', bytes: Buffer.from(control) }];

async function scanTable() {
  const items: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await vault.deps.db.client.send(
      new ScanCommand({ TableName: vault.deps.db.tableName, ExclusiveStartKey: start, ConsistentRead: true }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

describe('leak scan', () => {
  it('finds no canary, token, token secret, signing secret or API key in any stored attribute', async () => {
    const items = await scanTable();
    const needles = secretNeedles();
    const hits: string[] = [];
    let leafCount = 0;
    let binaryLeaves = 0;
    let controlHits = 0;

    for (const item of items) {
      for (const [name, value] of Object.entries(item)) {
        for (const [path, bytes, kind] of leaves(value, name)) {
          leafCount++;
          if (kind === 'B') binaryLeaves++;
          hits.push(...hitsIn(bytes, needles, `${item.pk?.S}/${item.sk?.S} ${path}`));
          controlHits += hitsIn(bytes, controlNeedles(), path).length;
        }
      }
    }

    const profiles = items.filter((i) => i.entity?.S === 'profile');
    expect(items.length).toBeGreaterThan(0);
    expect(profiles).toHaveLength(2);
    expect(leafCount).toBeGreaterThan(20);
    expect(profiles.every((p) => Object.keys(p.fields?.M ?? {}).length > 0)).toBe(true);
    expect(binaryLeaves).toBeGreaterThan(0);
    expect(controlHits).toBeGreaterThan(0);
    expect(hits).toEqual([]);
  });

  it('finds none of them in the files under the data folders', () => {
    const files = [...filesUnder(dynamoDir), ...filesUnder(vault.dataDir)];
    const needles = secretNeedles();
    const hits: string[] = [];
    let bytesExamined = 0;
    let controlHits = 0;

    for (const file of files) {
      const content = readFileSync(file);
      bytesExamined += content.length;
      hits.push(...hitsIn(content, needles, file));
      controlHits += hitsIn(content, controlNeedles(), file).length;
    }

    expect(files.length).toBeGreaterThan(0);
    expect(bytesExamined).toBeGreaterThan(0);
    expect(controlHits).toBeGreaterThan(0); // the store's files are searchable: a plaintext value is found
    expect(hits).toEqual([]);
  });

  it('finds none of them in the captured logs', () => {
    const logs = Buffer.from(vault.logs.join('\n'));
    const hits = hitsIn(logs, secretNeedles(), 'logs');

    expect(vault.logs.length).toBeGreaterThan(5);
    expect(vault.logs.join('\n')).toContain('/api/upsert_agent_auth_profile');
    expect(hits).toEqual([]);
  });

  it('finds none of them in the Lambda-mode log fields and the EMF metric lines', () => {
    const lines = vault.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    const hits = hitsIn(Buffer.from(emfLines.join('\n')), secretNeedles(), 'EMF metrics');

    expect(lines.some((l) => typeof l.function_request_id === 'string')).toBe(true);
    expect(emfLines.join('\n')).toContain('"ColdStart"');
    expect(hits).toEqual([]);
  });

  it('echoes no canary value in any response', () => {
    const needles = Object.entries(canaries).flatMap(([k, v]) => formsOfString(v, `canary ${k}`));

    const hits = responseTexts.flatMap((r) => hitsIn(Buffer.from(r.text), needles, r.what));

    expect(responseTexts.length).toBeGreaterThan(10);
    expect(hits).toEqual([]);
  });

  it('returns no token or signing secret except in the answer that issues it', () => {
    const issued = new Set([...secrets.tokens, ...secrets.signingSecrets]);
    const reads = responseTexts.filter((r) => r.what.startsWith('GET '));

    const hits = reads.flatMap((r) => [...issued].filter((s) => r.text.includes(s)).map(() => r.what));

    expect(reads.length).toBe(3);
    expect(hits).toEqual([]);
  });
});
