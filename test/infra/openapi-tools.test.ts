/**
 * The OpenAPI document (shared/schemas/openapi.ts) with the third-party tools an integrating
 * engineer uses (docs/api.md, "Using the document"), run as they would run them:
 * - Redocly CLI, `recommended` ruleset (redocly.yaml), and Spectral, `spectral:oas` (.spectral.yaml):
 *   0 errors and 0 warnings;
 * - openapi-typescript with its default flags (clients/typescript's copy, which needs TypeScript
 *   5), and TypeScript 5 typechecking the README's calls against the generated types.
 * Each tool runs as a child process under test/support/no-network-preload.ts, which records every
 * connection and DNS lookup it attempts: the tools must make none (no telemetry, no update check,
 * no remote ruleset).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOpenApi } from '#shared/schemas/openapi';

const ROOT = resolve(import.meta.dirname, '../..');
const PRELOAD = join(ROOT, 'test/support/no-network-preload.ts');
const REDOCLY = join(ROOT, 'node_modules/@redocly/cli/bin/cli.js');
const SPECTRAL = join(ROOT, 'node_modules/@stoplight/spectral-cli/dist/index.js');
const OPENAPI_TS = join(ROOT, 'clients/typescript/node_modules/openapi-typescript/bin/cli.js');
const TSC5 = join(ROOT, 'clients/typescript/node_modules/typescript/bin/tsc');

let dir: string;
let attempts: string;

/** Runs a tool's CLI under the recording network guard; the environment turns telemetry and update checks off. */
function run(cli: string, args: string[]) {
  const res = spawnSync(process.execPath, ['--import', 'tsx', '--import', PRELOAD, cli, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1', NETWORK_ATTEMPTS_LOG: attempts },
  });
  return { status: res.status, out: `${res.stdout}\n${res.stderr}` };
}

const writeDoc = (name: string, doc: unknown) => {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(doc, null, 2));
  return file;
};

function redocly(file: string) {
  const res = run(REDOCLY, ['lint', file, '--config', join(ROOT, 'redocly.yaml'), '--format', 'json']);
  const json = res.out.slice(res.out.indexOf('{'), res.out.lastIndexOf('}') + 1);
  const report = JSON.parse(json) as { totals: { errors: number; warnings: number }; problems: { ruleId: string; message: string }[] };
  return { ...report.totals, problems: report.problems.map((p) => `${p.ruleId}: ${p.message}`) };
}

function spectral(file: string) {
  const out = join(dir, 'spectral.json');
  rmSync(out, { force: true });
  const res = run(SPECTRAL, ['lint', file, '--ruleset', join(ROOT, '.spectral.yaml'), '--format', 'json', '--output', out, '--fail-severity', 'hint']);
  if (!existsSync(out)) throw new Error(`spectral wrote no report: ${res.out}`);
  return (JSON.parse(readFileSync(out, 'utf8')) as { code: string; message: string; path: string[] }[]).map((r) => `${r.code}: ${r.message} at ${r.path.join('.')}`);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'agent-vault-openapi-'));
  attempts = join(dir, 'network-attempts.log');
  writeDoc('openapi.json', buildOpenApi());
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('the OpenAPI document under third-party tools', () => {
  it('passes Redocly (recommended) with 0 errors and 0 warnings', { timeout: 180_000 }, () => {
    const report = redocly(join(dir, 'openapi.json'));

    expect(report.problems).toEqual([]);
    expect({ errors: report.errors, warnings: report.warnings }).toEqual({ errors: 0, warnings: 0 });
  });

  it('passes Spectral (spectral:oas) with 0 results of any severity', { timeout: 180_000 }, () => {
    expect(spectral(join(dir, 'openapi.json'))).toEqual([]);
  });

  it('is caught by both linters when an operation loses its description and its 4xx answers (the gates can fail)', { timeout: 240_000 }, () => {
    const broken = structuredClone(buildOpenApi()) as unknown as { paths: Record<string, Record<string, { description?: string; responses: Record<string, unknown> }>> };
    const op = broken.paths['/v1/agents']?.get as { description?: string; responses: Record<string, unknown> };
    delete op.description;
    for (const status of Object.keys(op.responses)) if (status.startsWith('4')) delete op.responses[status];
    const file = writeDoc('broken.json', broken);

    expect(redocly(file).problems.join('\n')).toContain('operation-4xx-response');
    expect(spectral(file).join('\n')).toContain('operation-description');
  });

  it("generates types with openapi-typescript's defaults in which the README's calls typecheck (TypeScript 5)", { timeout: 240_000 }, () => {
    const types = join(dir, 'types.ts');
    const gen = run(OPENAPI_TS, [join(dir, 'openapi.json'), '--output', types]);
    expect(gen.status, gen.out).toBe(0);
    writeFileSync(join(dir, 'readme-calls.ts'), README_CALLS);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, noEmit: true, target: 'es2022', module: 'esnext', moduleResolution: 'bundler', types: [], lib: ['es2022'], noUnusedLocals: false }, files: ['readme-calls.ts'] }),
    );

    const tsc = run(TSC5, ['-p', join(dir, 'tsconfig.json')]);

    expect(tsc.out.trim()).toBe('');
    expect(tsc.status).toBe(0);
  });

  it('the tools made no network call (the recorder itself records one)', { timeout: 60_000 }, () => {
    expect(existsSync(attempts) ? readFileSync(attempts, 'utf8') : '').toBe('');

    const probe = spawnSync(process.execPath, ['--import', 'tsx', '--import', PRELOAD, '-e', "require('node:net').connect(80, '192.0.2.1').on('error', () => {})"], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, NETWORK_ATTEMPTS_LOG: join(dir, 'probe.log') },
    });

    expect(readFileSync(join(dir, 'probe.log'), 'utf8')).toContain('192.0.2.1');
    expect(probe.stderr).toContain('would leave this machine');
  });
});

/**
 * The README's walk-through (README.md, "Walk-through (curl)") as typed literals against the
 * generated types, the way openapi-fetch types them; `@ts-expect-error` lines are calls the
 * document must refuse (a typo'd method, a string limit, a code the answer cannot carry).
 */
const README_CALLS = `
import type { components, paths } from './types';

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;
type Body<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends { requestBody?: infer R } ? Json<NonNullable<R>> : never;
type Answer<P extends keyof paths, M extends keyof paths[P], S extends number> = paths[P][M] extends { responses: infer R } ? (S extends keyof R ? Json<R[S]> : never) : never;
type CodeOf<T> = T extends { error: { code: infer C } } ? C : never;
type ErrorCode<P extends keyof paths, M extends keyof paths[P], S extends number> = CodeOf<Answer<P, M, S>>;
type Query<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

const KEY = 'avk_example';

// 1. Register an agent (input_args without required/secret: they have defaults).
const agent: Body<'/v1/agents', 'post'> = {
  agent_id: 'crm-bot',
  name: 'CRM bot',
  input_args: [{ name: 'username', required: true }, { name: 'password', required: true }, { name: 'query' }],
  runner: { type: 'webhook', url: 'http://127.0.0.1:4000/run' },
};
declare const registered: Answer<'/v1/agents', 'post', 201>;
const secret: string = registered.runner_signing_secret;

// 2. Create an auth profile, the API key in the body.
const create: Body<'/api/create_agent_auth_profile', 'post'> = { api_key: KEY, agent_id: 'crm-bot', name: 'alice', auth_data: { username: 'alice', password: 's3cret' } };
declare const created: Answer<'/api/create_agent_auth_profile', 'post', 200>;
const token: string = created.auth_token;

// 3. Upsert it in place.
const upsert: Body<'/api/upsert_agent_auth_profile', 'post'> = { agent_id: 'crm-bot', auth_token: token, auth_data: { password: 'n3w-s3cret' }, should_save_session: true };
declare const upserted: Answer<'/api/upsert_agent_auth_profile', 'post', 200>;
const kind: 'create' | 'replace' | 'update' = upserted.type;

// 4. Run the agent, synchronously then asynchronously (run_async and parameters have defaults), and read the run.
const runSync: Body<'/run_agent', 'post'> = { agent_id: 'crm-bot', auth_token: token, parameters: { query: 'open deals' }, run_async: false };
const runAsync: Body<'/run_agent', 'post'> = { agent_id: 'crm-bot', auth_token: token, parameters: { query: 'open deals' } };
const runBare: Body<'/api/run_agent', 'post'> = { agent_id: 'crm-bot' };
declare const started: Answer<'/run_agent', 'post', 200>;
const runUrl: string = started.agent_run_url;
declare const run: Answer<'/v1/runs/{session_id}', 'get', 200>;
const state: 'queued' | 'running' | 'succeeded' | 'failed' = run.status;

// Errors are typed per answer: the codes each status can carry.
declare const notFound: Answer<'/api/upsert_agent_auth_profile', 'post', 404>;
const missing: 'agent_not_found' | 'profile_not_found' = notFound.error.code;
const message: string = notFound.error.message;
declare const inUse: Answer<'/v1/agents/{agent_id}/auth-profiles/{name}', 'delete', 409>;
const uses: number | undefined = inUse.error.usage?.use_count;
// @ts-expect-error the compatible upsert answers a token in another format 404, never 400 invalid_auth_token
const notACode: ErrorCode<'/api/upsert_agent_auth_profile', 'post', 400> = 'invalid_auth_token';

// The proxy: an API-key body or a run-grant body; the method an enum.
const proxied: Body<'/v1/proxy', 'post'> = { agent_id: 'crm-bot', auth_token: token, method: 'GET', url: 'https://api.example.com/deals' };
const granted: Body<'/v1/proxy', 'post'> = { method: 'POST', url: 'https://api.example.com/deals', body: { name: 'x' } };
// @ts-expect-error not a method the proxy sends
const badMethod: Body<'/v1/proxy', 'post'> = { method: 'FETCH', url: 'https://api.example.com/deals' };

// Query parameters keep their types; answers have typed arrays; API keys default to member.
const page: Query<'/v1/agents', 'get'> = { limit: 20 };
const force: Query<'/v1/agents/{agent_id}', 'delete'> = { force: true };
// @ts-expect-error limit is a number
const pageText: Query<'/v1/agents', 'get'> = { limit: '20' };
declare const profile: components['schemas']['AuthProfile'];
const hosts: string[] | undefined = profile.allowed_hosts;
const member: Body<'/v1/api-keys', 'post'> = { name: 'ci' };

// auth_config is one of the per-type configs.
const typed: Body<'/v1/agents/{agent_id}/auth-profiles', 'post'> = { name: 'deals', auth_type: 'api_key', auth_config: { api_key_method: 'header' }, auth_data: { 'X-Api-Key': 'k' }, allowed_hosts: ['api.example.com'] };
const oauth: Body<'/v1/agents/{agent_id}/auth-profiles', 'post'> = { name: 'm2m', auth_type: 'oauth2_client_credentials', auth_config: { token_url: 'https://auth.example.com/token' }, auth_data: { client_id: 'c', client_secret: 's' } };
// @ts-expect-error no auth type takes this config
const badConfig: Body<'/v1/agents/{agent_id}/auth-profiles', 'post'> = { name: 'x', auth_type: 'api_key', auth_config: { api_key_method: 'carrier-pigeon' }, auth_data: { k: 'v' } };

export const used = [agent, secret, create, upsert, kind, runSync, runAsync, runBare, runUrl, state, missing, message, uses, notACode, proxied, granted, badMethod, page, force, pageText, hosts, member, typed, oauth, badConfig];
`;
