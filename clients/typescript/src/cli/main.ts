/**
 * `agent-vault`: the command line for any vault, local or deployed, built on the SDK
 * (clients/typescript/README.md, "CLI"). Configuration comes from AGENT_VAULT_URL and
 * AGENT_VAULT_API_KEY; auth tokens from --token or AGENT_VAULT_AUTH_TOKEN. Human tables by
 * default, `--json` for scripts; exit codes in EXIT. The local admin CLI (infra/local/admin.ts)
 * keeps the tasks that work on a local data folder.
 */
import { readFileSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { VaultClient } from '../client.ts';
import { VaultConnectionError, VaultError } from '../errors.ts';
import type { PageItem, QueryParams, RequestBody, ResponseBody } from '../types.ts';
import { type Columns, fields, table } from './format.ts';

/** Exit codes (documented in clients/typescript/README.md). */
export const EXIT = {
  ok: 0,
  /** Bad command line, missing configuration, or a request the vault refused as invalid (400, 405, 413, 415). */
  usage: 1,
  /** 404: no such agent, profile, key, webhook or run (or one this key may not see). */
  notFound: 2,
  /** 401/403: the API key or auth token was refused, or lacks the permission. */
  auth: 3,
  /** 409: the name exists, the profile is in use, a concurrent change won. */
  conflict: 4,
  /** The vault could not be reached, timed out, or answered 429/5xx after the retries. */
  unavailable: 5,
  /** The command ran but what it checked failed: `profiles test` not ok, a run that failed, `proxy --fail` with an upstream ≥ 400. */
  failed: 6,
} as const;

export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Reads standard input (for `--data-file -`). */
  readonly readStdin?: () => Promise<string>;
  /** Stops `audit tail --follow` (the bin wires it to SIGINT/SIGTERM). */
  readonly signal?: AbortSignal;
}

class UsageError extends Error {}

type Values = Record<string, string | boolean | string[] | undefined>;
type Options = NonNullable<ParseArgsConfig['options']>;

interface Ctx {
  readonly io: CliIo;
  readonly json: boolean;
  readonly args: readonly string[];
  readonly values: Values;
  client(): VaultClient;
  out(human: string, json: unknown): void;
}

interface Command {
  readonly usage: string;
  readonly summary: string;
  readonly options?: Options;
  /** How many positionals it takes after its name (min, max). */
  readonly arity: readonly [number, number];
  run(ctx: Ctx): Promise<number | undefined>;
}

const GLOBAL: Options = {
  json: { type: 'boolean' },
  'vault-url': { type: 'string' },
  'timeout-ms': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

const str = (v: Values, k: string) => v[k] as string | undefined;
const list = (v: Values, k: string) => (v[k] as string[] | undefined) ?? [];

function int(v: Values, k: string): number | undefined {
  const s = str(v, k);
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s)) throw new UsageError(`--${k} takes a whole number, not "${s}"`);
  return Number(s);
}

function bool(v: Values, k: string): boolean | undefined {
  const s = str(v, k);
  if (s === undefined) return undefined;
  if (s !== 'true' && s !== 'false') throw new UsageError(`--${k} takes true or false, not "${s}"`);
  return s === 'true';
}

/** `key=value` pairs (a value `@path` is read from that file, so it stays out of the shell history). */
function pairs(items: readonly string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const at = item.indexOf('=');
    // The item is not echoed: it may be a secret value typed without its key.
    if (at <= 0) throw new UsageError(`--${flag} takes key=value (or key=@file); one of them has no "key="`);
    const key = item.slice(0, at);
    const value = item.slice(at + 1);
    out[key] = value.startsWith('@') ? readText(value.slice(1), `--${flag} ${key}=@…`).replace(/\r?\n$/, '') : value;
  }
  return out;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw new UsageError(`${what}: cannot read the file ${path}`);
  }
}

/** A JSON object from `--<flag> path` (or `-`: standard input). */
async function jsonFile(ctx: Ctx, flag: string): Promise<Record<string, unknown> | undefined> {
  const path = str(ctx.values, flag);
  if (path === undefined) return undefined;
  const text = path === '-' ? await (ctx.io.readStdin?.() ?? Promise.resolve('')) : readText(path, `--${flag}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError(`--${flag} ${path}: not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new UsageError(`--${flag} ${path}: expected a JSON object`);
  return parsed as Record<string, unknown>;
}

function token(ctx: Ctx, required: boolean): string | undefined {
  const t = str(ctx.values, 'token') ?? ctx.io.env.AGENT_VAULT_AUTH_TOKEN;
  if (!t && required) throw new UsageError("this needs the profile's auth token: set AGENT_VAULT_AUTH_TOKEN (or pass --token avt_…)");
  return t || undefined;
}

const TOKEN_OPTION: Options = { token: { type: 'string' } };

// ---- Agents ----

type Agent = ResponseBody<'getAgent'>;
const AGENT_COLUMNS: Columns<Agent> = [
  ['AGENT_ID', (a) => a.agent_id],
  ['NAME', (a) => a.name],
  ['DELIVERY', (a) => a.credential_delivery],
  ['RUNNER', (a) => a.runner.url],
  ['INPUT_ARGS', (a) => a.input_args.map((i) => i.name)],
  ['OWNER', (a) => a.owner],
];

const agentFields = (a: Agent & { runner_signing_secret?: string }) =>
  fields([
    ['agent_id', a.agent_id],
    ['name', a.name],
    ['description', a.description],
    ['credential_delivery', a.credential_delivery],
    ['runner', `${a.runner.url}${a.runner.timeout_ms ? ` (timeout ${a.runner.timeout_ms} ms)` : ''}`],
    ['input_args', a.input_args.map((i) => `${i.name}${i.required ? ' (required)' : ''}${i.secret === false ? ' (not secret)' : ''}`)],
    ['owner', a.owner],
    ['created_at', a.created_at],
    ['updated_at', a.updated_at],
  ]);

const AGENT_DEFINITION: Options = {
  name: { type: 'string' },
  description: { type: 'string' },
  'runner-url': { type: 'string' },
  'runner-timeout-ms': { type: 'string' },
  'input-arg': { type: 'string', multiple: true },
  delivery: { type: 'string' },
  file: { type: 'string' },
};

/** `name[:required][:public]`: an input argument (secret unless `:public`). */
function inputArg(spec: string) {
  const [name, ...flags] = spec.split(':');
  for (const f of flags)
    if (f !== 'required' && f !== 'public')
      throw new UsageError(`--input-arg ${spec}: flags are :required and :public (e.g. username:required)`);
  return { name: name ?? '', required: flags.includes('required'), secret: !flags.includes('public') };
}

/** The agent definition from the flags, over `base` (a file, or the stored agent for an update). */
async function agentDefinition(ctx: Ctx, base: Record<string, unknown>): Promise<Record<string, unknown>> {
  const v = ctx.values;
  const body: Record<string, unknown> = { ...base, ...(await jsonFile(ctx, 'file')) };
  if (str(v, 'name') !== undefined) body.name = str(v, 'name');
  if (str(v, 'description') !== undefined) body.description = str(v, 'description');
  if (str(v, 'delivery') !== undefined) body.credential_delivery = str(v, 'delivery');
  if (list(v, 'input-arg').length > 0) body.input_args = list(v, 'input-arg').map(inputArg);
  if (str(v, 'runner-url') !== undefined || str(v, 'runner-timeout-ms') !== undefined) {
    const runner: Record<string, unknown> = { type: 'webhook', ...(body.runner as Record<string, unknown> | undefined) };
    if (str(v, 'runner-url') !== undefined) runner.url = str(v, 'runner-url');
    if (str(v, 'runner-timeout-ms') !== undefined) runner.timeout_ms = int(v, 'runner-timeout-ms');
    body.runner = runner;
  }
  body.input_args ??= [];
  return body;
}

async function collect<T>(items: AsyncIterable<T>, max: number | undefined): Promise<T[]> {
  const out: T[] = [];
  if (max === 0) return out;
  for await (const item of items) {
    out.push(item);
    if (max !== undefined && out.length >= max) break;
  }
  return out;
}

// ---- Profiles ----

type Profile = ResponseBody<'getAgentAuthProfile'>;
const profileColumns = (withAgent: boolean): Columns<Profile> => [
  ...(withAgent ? ([['AGENT_ID', (p: Profile) => p.agent_id]] as const) : []),
  ['NAME', (p) => p.name],
  ['TYPE', (p) => p.auth_type],
  ['ACTIVE', (p) => p.active],
  ['TOKEN', (p) => p.token_state],
  ['USES', (p) => p.use_count],
  ['LAST_USED', (p) => p.last_used_at],
  ['HOSTS', (p) => p.allowed_hosts],
  ['VISIBILITY', (p) => p.visibility],
  // oauth2_authorization_code: pending, connected, needs_reauth, disconnected ('-' for the others).
  ['CONNECTION', (p) => p.connection_state],
];

const profileFields = (p: Profile) =>
  fields([
    ['agent_id', p.agent_id],
    ['name', p.name],
    ['auth_type', p.auth_type],
    ['fields', p.fields],
    ['auth_config', p.auth_config],
    ['description', p.description],
    ['active', p.active],
    ['generation', p.generation],
    ['token_state', p.token_state],
    ['token_expires_at', p.token_expires_at],
    ['allowed_hosts', p.allowed_hosts],
    ['allowed_path_prefixes', p.allowed_path_prefixes],
    ['allowed_methods', p.allowed_methods],
    ['allowed_source_ips', p.allowed_source_ips],
    ['use_count', p.use_count],
    ['last_used_at', p.last_used_at],
    ['last_tested_at', p.last_tested_at],
    ['last_test_ok', p.last_test_ok],
    ['last_error', p.last_error],
    ['end_user_id', p.end_user_id],
    ['connection_state', p.connection_state],
    ['connected_at', p.connected_at],
    ['scopes_granted', p.scopes_granted],
    ['last_refreshed_at', p.last_refreshed_at],
    ['owner', p.owner],
    ['visibility', p.visibility],
    ['grants', p.grants.map((g) => `${g.principal}:${g.permission}`)],
    ['created_at', p.created_at],
    ['updated_at', p.updated_at],
  ]);

/** The vault's profile filters (GET /v1/auth-profiles and …/auth-profiles): every one given must match. */
const PROFILE_FILTERS: Options = {
  type: { type: 'string' },
  visibility: { type: 'string' },
  'token-state': { type: 'string' },
  'connection-state': { type: 'string' },
  active: { type: 'string' },
  'end-user-id': { type: 'string' },
};
const PROFILE_FILTER_USAGE =
  '[--type T] [--visibility private|shared] [--token-state valid|expiring_soon|expired] [--connection-state pending|connected|needs_reauth|disconnected] [--active true|false] [--end-user-id ID]';

/** The filter flags as query parameters (the vault answers 400 naming the valid values of a wrong one). */
function profileFilters(v: Values): QueryParams<'listAuthProfiles'> {
  return {
    auth_type: str(v, 'type'),
    visibility: str(v, 'visibility'),
    token_state: str(v, 'token-state'),
    connection_state: str(v, 'connection-state'),
    active: bool(v, 'active'),
    end_user_id: str(v, 'end-user-id'),
  } as QueryParams<'listAuthProfiles'>;
}

const PROFILE_VALUES: Options = {
  type: { type: 'string' },
  data: { type: 'string', multiple: true },
  'data-file': { type: 'string' },
  config: { type: 'string', multiple: true },
  'config-file': { type: 'string' },
  'allowed-host': { type: 'string', multiple: true },
  'allowed-path': { type: 'string', multiple: true },
  'allowed-method': { type: 'string', multiple: true },
  'expires-in-hours': { type: 'string' },
  'save-session': { type: 'boolean' },
  'end-user-id': { type: 'string' },
};

/** The values and settings of a create or upsert body from the flags. */
async function profileBody(ctx: Ctx): Promise<Record<string, unknown>> {
  const v = ctx.values;
  const auth_data = { ...(await jsonFile(ctx, 'data-file')), ...pairs(list(v, 'data'), 'data') };
  if (Object.keys(auth_data).length === 0)
    throw new UsageError('give the credential values: --data key=value (or key=@file), or --data-file values.json (- for stdin)');
  const body: Record<string, unknown> = { auth_data };
  if (str(v, 'type') !== undefined) body.auth_type = str(v, 'type');
  // --config-file for nested settings (an OAuth profile's scopes, authorize_params); --config pairs on top.
  const config = { ...(await jsonFile(ctx, 'config-file')), ...pairs(list(v, 'config'), 'config') };
  if (Object.keys(config).length > 0) body.auth_config = config;
  if (list(v, 'allowed-host').length > 0) body.allowed_hosts = list(v, 'allowed-host');
  if (list(v, 'allowed-path').length > 0) body.allowed_path_prefixes = list(v, 'allowed-path');
  if (list(v, 'allowed-method').length > 0) body.allowed_methods = list(v, 'allowed-method').map((m) => m.toUpperCase());
  if (str(v, 'expires-in-hours') !== undefined) body.expires_in_hours = int(v, 'expires-in-hours');
  if (v['save-session']) body.should_save_session = true;
  if (str(v, 'end-user-id') !== undefined) body.end_user_id = str(v, 'end-user-id');
  return body;
}

function shownOnce(label: string, secret: string): string {
  return `${label} (shown once; the vault keeps no copy, store it now):\n  ${secret}\n`;
}

/** An oauth2_authorization_code profile's connect link, for the end user's browser. */
function connectLink(link: { connect_url?: string; connect_expires_at?: string }): string {
  return link.connect_url
    ? `connect link for the end user's browser (single use, until ${link.connect_expires_at ?? '15 minutes from now'}):\n  ${link.connect_url}\n`
    : '';
}

// ---- Webhooks ----

type Webhook = ResponseBody<'getWebhook'>;
const WEBHOOK_COLUMNS: Columns<Webhook> = [
  ['WEBHOOK_ID', (w) => w.webhook_id],
  ['URL', (w) => w.url],
  ['EVENTS', (w) => w.events],
  ['ACTIVE', (w) => w.active],
  ['DESCRIPTION', (w) => w.description],
];
const webhookFields = (w: Webhook) =>
  fields([
    ['webhook_id', w.webhook_id],
    ['url', w.url],
    ['events', w.events],
    ['description', w.description],
    ['active', w.active],
    ['created_by', w.created_by],
    ['created_at', w.created_at],
    ['updated_at', w.updated_at],
  ]);
type Delivery = PageItem<'listWebhookDeliveries', 'deliveries'>;
const DELIVERY_COLUMNS: Columns<Delivery> = [
  ['CREATED_AT', (d) => d.created_at],
  ['EVENT', (d) => d.event_type],
  ['STATUS', (d) => d.status],
  ['ATTEMPTS', (d) => `${d.attempts}/${d.max_attempts}`],
  ['HTTP', (d) => d.last_status_code],
  ['OUTCOME', (d) => d.outcome],
  ['NEXT_ATTEMPT', (d) => d.next_attempt_at],
  ['EVENT_ID', (d) => d.event_id],
  ['DELIVERY_ID', (d) => d.delivery_id],
];

// ---- Audit ----

type AuditRecord = PageItem<'listAuditRecords', 'records'>;
const AUDIT_COLUMNS: Columns<AuditRecord> = [
  ['AT', (r) => r.at],
  ['ACTION', (r) => r.action],
  ['AGENT_ID', (r) => r.agent_id],
  ['PROFILE', (r) => r.profile],
  ['KEY_ID', (r) => r.key_id],
  ['STATUS', (r) => r.status],
  ['RESULT', (r) => r.result],
];
const AUDIT_FILTERS: Options = {
  agent: { type: 'string' },
  profile: { type: 'string' },
  action: { type: 'string' },
  since: { type: 'string' },
};
const auditQuery = (v: Values) => ({
  agent_id: str(v, 'agent'),
  profile: str(v, 'profile'),
  // The vault refuses an unknown action with a 400 naming the valid ones.
  action: str(v, 'action') as QueryParams<'listAuditRecords'>['action'],
  since: str(v, 'since'),
});

function waitOrStop(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', stop);
      resolve(true);
    }, ms);
    const stop = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal?.addEventListener('abort', stop, { once: true });
  });
}

// ---- The commands ----

const commands: Record<string, Command> = {
  'agents list': {
    usage: 'agents list [--limit N]',
    summary: 'List agents (every page; --limit stops after N)',
    options: { limit: { type: 'string' } },
    arity: [0, 0],
    async run(ctx) {
      const agents = await collect(ctx.client().iterateAgents({ limit: 100 }), int(ctx.values, 'limit'));
      ctx.out(table(agents, AGENT_COLUMNS), agents);
      return EXIT.ok;
    },
  },
  'agents get': {
    usage: 'agents get <agent_id>',
    summary: 'Show an agent',
    arity: [1, 1],
    async run(ctx) {
      const a = await ctx.client().getAgent(ctx.args[0] as string);
      ctx.out(agentFields(a), a);
      return EXIT.ok;
    },
  },
  'agents create': {
    usage:
      'agents create <agent_id> --name NAME --runner-url URL [--input-arg name[:required][:public]]… [--description D] [--delivery parameters|proxy] [--runner-timeout-ms N] [--file agent.json]',
    summary: 'Register an agent; prints its runner signing secret once',
    options: AGENT_DEFINITION,
    arity: [1, 1],
    async run(ctx) {
      const body = await agentDefinition(ctx, { agent_id: ctx.args[0] });
      const a = await ctx.client().createAgent(body as RequestBody<'createAgent'>);
      ctx.out(`${agentFields(a)}\n${shownOnce('runner signing secret', a.runner_signing_secret)}`, a);
      return EXIT.ok;
    },
  },
  'agents update': {
    usage:
      'agents update <agent_id> [--name NAME] [--runner-url URL] [--input-arg …]… [--description D] [--delivery parameters|proxy] [--runner-timeout-ms N] [--file agent.json]',
    summary: 'Change an agent: what you pass replaces the stored value, the rest is kept',
    options: AGENT_DEFINITION,
    arity: [1, 1],
    async run(ctx) {
      const id = ctx.args[0] as string;
      const { name, description, input_args, runner, credential_delivery } = await ctx.client().getAgent(id);
      const body = await agentDefinition(ctx, { name, description, input_args, runner, credential_delivery });
      const a = await ctx.client().updateAgent(id, body as RequestBody<'updateAgent'>);
      ctx.out(agentFields(a), a);
      return EXIT.ok;
    },
  },
  'agents delete': {
    usage: 'agents delete <agent_id> [--force]',
    summary: 'Delete an agent (--force: with its profiles)',
    options: { force: { type: 'boolean' } },
    arity: [1, 1],
    async run(ctx) {
      await ctx.client().deleteAgent(ctx.args[0] as string, ctx.values.force ? { force: true } : {});
      ctx.out(`deleted agent ${ctx.args[0]}\n`, { deleted: true, agent_id: ctx.args[0] });
      return EXIT.ok;
    },
  },
  'agents rotate-secret': {
    usage: 'agents rotate-secret <agent_id>',
    summary: 'Issue a new runner signing secret (printed once)',
    arity: [1, 1],
    async run(ctx) {
      const s = await ctx.client().rotateAgentSigningSecret(ctx.args[0] as string);
      ctx.out(shownOnce('runner signing secret', s.runner_signing_secret), s);
      return EXIT.ok;
    },
  },

  'profiles list': {
    usage: `profiles list (<agent_id> | --all) [--limit N] ${PROFILE_FILTER_USAGE}`,
    summary: "List an agent's auth profiles, or with --all the tenant's (metadata, never values); the filters are applied by the vault",
    options: { limit: { type: 'string' }, all: { type: 'boolean' }, ...PROFILE_FILTERS },
    arity: [0, 1],
    async run(ctx) {
      const agentId = ctx.args[0];
      if ((agentId === undefined) === !ctx.values.all)
        throw new UsageError('give an agent_id, or --all for every agent (see `agent-vault profiles list --help`)');
      const filters = profileFilters(ctx.values);
      const client = ctx.client();
      const profiles = await collect(
        agentId === undefined
          ? client.iterateAuthProfiles({ ...filters, limit: 100 })
          : client.iterateAgentAuthProfiles(agentId, { ...filters, limit: 100 }),
        int(ctx.values, 'limit'),
      );
      ctx.out(table(profiles, profileColumns(agentId === undefined)), profiles);
      return EXIT.ok;
    },
  },
  'profiles search': {
    usage: `profiles search <text> [--agent AGENT_ID] [--limit N] ${PROFILE_FILTER_USAGE}`,
    summary: 'Find the profiles whose name contains the text (case-insensitive), across agents or in one; searched by the vault',
    options: { agent: { type: 'string' }, limit: { type: 'string' }, ...PROFILE_FILTERS },
    arity: [1, 1],
    async run(ctx) {
      const query = { ...profileFilters(ctx.values), q: ctx.args[0], agent_id: str(ctx.values, 'agent'), limit: 100 };
      const found = await collect(ctx.client().iterateAuthProfiles(query), int(ctx.values, 'limit'));
      ctx.out(table(found, profileColumns(true)), found);
      return EXIT.ok;
    },
  },
  'profiles rename': {
    usage: 'profiles rename <agent_id> <name> <new_name>',
    summary: 'Rename a profile: its auth token, usage and history stay with it; the old name answers 404 from then on',
    arity: [3, 3],
    async run(ctx) {
      const [agentId, name, newName] = ctx.args as [string, string, string];
      const p = await ctx.client().renameAuthProfile(agentId, name, newName);
      ctx.out(`renamed profile ${name} of agent ${agentId} to ${p.name}; its token is unchanged\n`, p);
      return EXIT.ok;
    },
  },
  'profiles get': {
    usage: 'profiles get <agent_id> <name>',
    summary: 'Show a profile (metadata, never values)',
    arity: [2, 2],
    async run(ctx) {
      const p = await ctx.client().getAgentAuthProfile(ctx.args[0] as string, ctx.args[1] as string);
      ctx.out(profileFields(p), p);
      return EXIT.ok;
    },
  },
  'profiles create': {
    usage:
      'profiles create <agent_id> <name> [--type custom|bearer|basic|api_key|oauth2_client_credentials|oauth2_authorization_code] (--data key=value|key=@file)… [--data-file values.json|-] [--config key=value]… [--config-file config.json] [--end-user-id ID] [--allowed-host H]… [--allowed-path P]… [--allowed-method M]… [--expires-in-hours N] [--save-session]',
    summary: 'Create an auth profile; prints its auth token once (oauth2_authorization_code: and a connect link for the end user)',
    options: PROFILE_VALUES,
    arity: [2, 2],
    async run(ctx) {
      const body = { name: ctx.args[1], ...(await profileBody(ctx)) };
      const r = await ctx.client().createAuthProfile(ctx.args[0] as string, body as RequestBody<'createAuthProfile'>);
      ctx.out(
        `created ${r.profile.auth_type} profile ${r.profile.name} of agent ${r.profile.agent_id}\n${shownOnce('auth token', r.auth_token)}${connectLink(r)}`,
        r,
      );
      return EXIT.ok;
    },
  },
  'profiles update': {
    usage:
      'profiles update <agent_id> <name> (--data key=value)… [--data-file F] [settings as for create] [--token avt_… | AGENT_VAULT_AUTH_TOKEN] [--replace]',
    summary: 'Update the values in place (same token); --replace without a token issues a new one',
    options: { ...PROFILE_VALUES, ...TOKEN_OPTION, replace: { type: 'boolean' } },
    arity: [2, 2],
    async run(ctx) {
      const t = token(ctx, !ctx.values.replace);
      const body = { ...(await profileBody(ctx)), ...(t && !ctx.values.replace ? { auth_token: t } : {}) };
      const r = await ctx.client().putAuthProfile(ctx.args[0] as string, ctx.args[1] as string, body as RequestBody<'putAuthProfile'>);
      const human =
        r.type === 'update'
          ? `updated profile ${r.profile.name} in place; its token is unchanged\n`
          : `${r.type}d profile ${r.profile.name}\n${shownOnce('new auth token', r.auth_token)}${connectLink(r)}`;
      ctx.out(human, r.type === 'update' ? { ...r, auth_token: undefined } : r);
      return EXIT.ok;
    },
  },
  'profiles rotate': {
    usage: 'profiles rotate <agent_id> <name> [--token avt_… | AGENT_VAULT_AUTH_TOKEN] [--expires-in-hours N|none]',
    summary: 'New token for the same values (printed once); the old one dies at once',
    options: { ...TOKEN_OPTION, 'expires-in-hours': { type: 'string' } },
    arity: [2, 2],
    async run(ctx) {
      const hours = str(ctx.values, 'expires-in-hours');
      const body = {
        auth_token: token(ctx, true),
        ...(hours === undefined ? {} : { expires_in_hours: hours === 'none' ? null : int(ctx.values, 'expires-in-hours') }),
      };
      const r = await ctx
        .client()
        .rotateAuthProfile(ctx.args[0] as string, ctx.args[1] as string, body as RequestBody<'rotateAuthProfile'>);
      ctx.out(
        `rotated ${r.name} to generation ${r.generation}${r.token_expires_at ? `, expires ${r.token_expires_at}` : ''}\n${shownOnce('new auth token', r.auth_token)}`,
        r,
      );
      return EXIT.ok;
    },
  },
  'profiles patch': {
    usage:
      'profiles patch <agent_id> <name> [--active true|false] [--description D] [--allowed-ip CIDR]… [--allowed-host H]… [--allowed-path P]… [--allowed-method M]… [--clear description|allowed-hosts|allowed-paths|allowed-methods|allowed-ips]…',
    summary: 'Change non-secret settings (no token needed)',
    options: {
      active: { type: 'string' },
      description: { type: 'string' },
      'allowed-ip': { type: 'string', multiple: true },
      'allowed-host': { type: 'string', multiple: true },
      'allowed-path': { type: 'string', multiple: true },
      'allowed-method': { type: 'string', multiple: true },
      clear: { type: 'string', multiple: true },
    },
    arity: [2, 2],
    async run(ctx) {
      const v = ctx.values;
      const body: Record<string, unknown> = {};
      if (str(v, 'active') !== undefined) body.active = bool(v, 'active');
      if (str(v, 'description') !== undefined) body.description = str(v, 'description');
      if (list(v, 'allowed-ip').length > 0) body.allowed_source_ips = list(v, 'allowed-ip');
      if (list(v, 'allowed-host').length > 0) body.allowed_hosts = list(v, 'allowed-host');
      if (list(v, 'allowed-path').length > 0) body.allowed_path_prefixes = list(v, 'allowed-path');
      if (list(v, 'allowed-method').length > 0) body.allowed_methods = list(v, 'allowed-method').map((m) => m.toUpperCase());
      const clearable: Record<string, [string, unknown]> = {
        description: ['description', null],
        'allowed-hosts': ['allowed_hosts', null],
        'allowed-paths': ['allowed_path_prefixes', null],
        'allowed-methods': ['allowed_methods', null],
        'allowed-ips': ['allowed_source_ips', []],
      };
      for (const c of list(v, 'clear')) {
        const entry = clearable[c];
        if (!entry) throw new UsageError(`--clear takes one of ${Object.keys(clearable).join(', ')}, not "${c}"`);
        body[entry[0]] = entry[1];
      }
      if (Object.keys(body).length === 0)
        throw new UsageError('nothing to change: pass at least one setting (see `agent-vault profiles patch --help`)');
      const p = await ctx.client().patchAuthProfile(ctx.args[0] as string, ctx.args[1] as string, body as RequestBody<'patchAuthProfile'>);
      ctx.out(profileFields(p), p);
      return EXIT.ok;
    },
  },
  'profiles test': {
    usage: 'profiles test <agent_id> <name> [--url URL] [--method M] [--token avt_… | AGENT_VAULT_AUTH_TOKEN]',
    summary: 'One real call with the credentials injected; exit 6 unless the upstream answered 2xx',
    options: { ...TOKEN_OPTION, url: { type: 'string' }, method: { type: 'string' } },
    arity: [2, 2],
    async run(ctx) {
      const url = str(ctx.values, 'url');
      const method = str(ctx.values, 'method');
      const body = {
        auth_token: token(ctx, true),
        ...(url ? { request: { url, ...(method ? { method: method.toUpperCase() } : {}) } } : {}),
      };
      const r = await ctx.client().testAuthProfile(ctx.args[0] as string, ctx.args[1] as string, body as RequestBody<'testAuthProfile'>);
      ctx.out(
        fields([
          ['ok', r.ok],
          ['status', r.status],
          ['latency_ms', r.latency_ms],
          ['error', r.error],
        ]),
        r,
      );
      return r.ok ? EXIT.ok : EXIT.failed;
    },
  },
  'profiles connect': {
    usage: 'profiles connect <agent_id> <name> [--token avt_… | AGENT_VAULT_AUTH_TOKEN]',
    summary: "oauth2_authorization_code: a new single-use connect link (15 minutes) to open in the end user's browser",
    options: TOKEN_OPTION,
    arity: [2, 2],
    async run(ctx) {
      const r = await ctx
        .client()
        .connectAuthProfile(
          ctx.args[0] as string,
          ctx.args[1] as string,
          { auth_token: token(ctx, true) } as RequestBody<'connectAuthProfile'>,
        );
      ctx.out(connectLink(r), r);
      return EXIT.ok;
    },
  },
  'profiles disconnect': {
    usage: 'profiles disconnect <agent_id> <name> [--token avt_… | AGENT_VAULT_AUTH_TOKEN]',
    summary:
      'oauth2_authorization_code: revoke the refresh token at the provider and remove the tokens; uses answer reauthorization_required until the end user connects again',
    options: TOKEN_OPTION,
    arity: [2, 2],
    async run(ctx) {
      const r = await ctx.client().disconnectAuthProfile(
        ctx.args[0] as string,
        ctx.args[1] as string,
        {
          auth_token: token(ctx, true),
        } as RequestBody<'disconnectAuthProfile'>,
      );
      ctx.out(
        fields([
          ['connection_state', r.connection_state],
          ['revocation', r.revocation],
          ['revocation_error', r.revocation_error],
        ]),
        r,
      );
      return EXIT.ok;
    },
  },
  'profiles usage': {
    usage: 'profiles usage <agent_id> <name>',
    summary: 'Usage counters and the last 50 uses',
    arity: [2, 2],
    async run(ctx) {
      const u = await ctx.client().getAuthProfileUsage(ctx.args[0] as string, ctx.args[1] as string);
      const head = fields([
        ['use_count', u.use_count],
        ['last_used_at', u.last_used_at],
        ['last_7_days', u.uses_last_7_days],
        ['in_flight_until', u.in_flight_until],
      ]);
      const uses = table(u.uses, [
        ['AT', (x) => x.at],
        ['ACTION', (x) => x.action],
        ['KEY_ID', (x) => x.key_id],
        ['STATUS', (x) => x.status],
        ['RESULT', (x) => x.result],
        ['SOURCE_IP', (x) => x.source_ip],
      ]);
      ctx.out(`${head}\n${uses}`, u);
      return EXIT.ok;
    },
  },
  'profiles delete': {
    usage: 'profiles delete <agent_id> <name> [--force] [--token avt_…]',
    summary:
      "Delete a profile; its token dies at once (--force: even while in use; --token: an OAuth profile's refresh token is revoked at the provider first)",
    options: { force: { type: 'boolean' }, ...TOKEN_OPTION },
    arity: [2, 2],
    async run(ctx) {
      const t = str(ctx.values, 'token');
      await ctx.client().deleteAgentAuthProfile(ctx.args[0] as string, ctx.args[1] as string, {
        ...(ctx.values.force ? { force: true } : {}),
        ...(t ? { auth_token: t } : {}),
      });
      ctx.out(`deleted profile ${ctx.args[1]} of agent ${ctx.args[0]}\n`, { deleted: true, agent_id: ctx.args[0], name: ctx.args[1] });
      return EXIT.ok;
    },
  },

  proxy: {
    usage:
      'proxy <agent_id> <METHOD> <URL> [--header "Name: value"]… [--query key=value]… [--body TEXT | --body-file F|-] [--token avt_… | AGENT_VAULT_AUTH_TOKEN] [--fail]',
    summary: "Send a request with the profile's credentials injected; prints the upstream's answer (--fail: exit 6 on ≥ 400)",
    options: {
      ...TOKEN_OPTION,
      header: { type: 'string', multiple: true },
      query: { type: 'string', multiple: true },
      body: { type: 'string' },
      'body-file': { type: 'string' },
      fail: { type: 'boolean' },
    },
    arity: [3, 3],
    async run(ctx) {
      const [agent_id, method, url] = ctx.args as [string, string, string];
      const headers: Record<string, string> = {};
      for (const h of list(ctx.values, 'header')) {
        const at = h.indexOf(':');
        if (at <= 0) throw new UsageError('--header takes "Name: value"; one of them has no ":"');
        headers[h.slice(0, at).trim()] = h.slice(at + 1).trim();
      }
      const query: Record<string, string[]> = {};
      for (const q of list(ctx.values, 'query')) {
        const at = q.indexOf('=');
        if (at <= 0) throw new UsageError('--query takes key=value; one of them has no "="');
        const key = q.slice(0, at);
        query[key] = [...(query[key] ?? []), q.slice(at + 1)];
      }
      const file = str(ctx.values, 'body-file');
      const body = file === '-' ? await ctx.io.readStdin?.() : file !== undefined ? readText(file, '--body-file') : str(ctx.values, 'body');
      const request = {
        agent_id,
        auth_token: token(ctx, true),
        method: method.toUpperCase(),
        url,
        ...(Object.keys(headers).length ? { headers } : {}),
        ...(Object.keys(query).length ? { query } : {}),
        ...(body !== undefined ? { body } : {}),
      };
      const r = await ctx.client().proxyRequest(request as RequestBody<'proxyRequest'>);
      const shown =
        r.body_encoding === 'base64' ? `(${Math.floor((r.body.length * 3) / 4)} bytes, not UTF-8: use --json for the base64 body)` : r.body;
      ctx.out(`HTTP ${r.status}\n${shown}${shown.endsWith('\n') ? '' : '\n'}`, r);
      return ctx.values.fail && r.status >= 400 ? EXIT.failed : EXIT.ok;
    },
  },

  'runs start': {
    usage:
      'runs start <agent_id> [--param key=value]… [--params-file F|-] [--token avt_… | AGENT_VAULT_AUTH_TOKEN] [--no-profile] [--async [--wait]]',
    summary: 'Run an agent (synchronously unless --async); exit 6 if the run failed',
    options: {
      ...TOKEN_OPTION,
      param: { type: 'string', multiple: true },
      'params-file': { type: 'string' },
      'no-profile': { type: 'boolean' },
      async: { type: 'boolean' },
      wait: { type: 'boolean' },
      'poll-ms': { type: 'string' },
    },
    arity: [1, 1],
    async run(ctx) {
      const client = ctx.client();
      const parameters = { ...(await jsonFile(ctx, 'params-file')), ...pairs(list(ctx.values, 'param'), 'param') };
      const auth_token = ctx.values['no-profile'] ? undefined : token(ctx, true);
      const started = await client.runAgent({
        agent_id: ctx.args[0],
        parameters,
        run_async: ctx.values.async === true,
        ...(auth_token ? { auth_token } : {}),
      } as RequestBody<'runAgent'>);
      if (ctx.values.async && !ctx.values.wait) {
        ctx.out(`started run ${started.session_id}\n  agent-vault runs get ${started.session_id}\n`, started);
        return EXIT.ok;
      }
      let run: ResponseBody<'getRun'> | undefined;
      if (ctx.values.async) {
        const every = int(ctx.values, 'poll-ms') ?? 1000;
        do {
          run = await client.getRun(started.session_id);
          if (run.status === 'succeeded' || run.status === 'failed') break;
        } while (await waitOrStop(every, ctx.io.signal));
      }
      const output = run ? run.agent_output : started.agent_output;
      const error = run ? run.error_message : started.error_message;
      const status = run?.status ?? (error ? 'failed' : 'succeeded');
      ctx.out(
        fields([
          ['session_id', started.session_id],
          ['status', status],
          ['output', output],
          ['error', error],
        ]),
        run ?? started,
      );
      return status === 'failed' ? EXIT.failed : EXIT.ok;
    },
  },
  'runs get': {
    usage: 'runs get <session_id>',
    summary: 'Status and result of a run',
    arity: [1, 1],
    async run(ctx) {
      const r = await ctx.client().getRun(ctx.args[0] as string);
      ctx.out(
        fields([
          ['session_id', r.session_id],
          ['agent_id', r.agent_id],
          ['status', r.status],
          ['output', r.agent_output],
          ['error', r.error_message],
          ['created_at', r.created_at],
          ['finished_at', r.finished_at],
        ]),
        r,
      );
      return r.status === 'failed' ? EXIT.failed : EXIT.ok;
    },
  },

  'audit list': {
    usage: 'audit list [--agent AGENT_ID [--profile NAME]] [--action A] [--since ISO] [--limit N (default 50)]',
    summary: 'The audit log, newest first',
    options: { ...AUDIT_FILTERS, limit: { type: 'string' } },
    arity: [0, 0],
    async run(ctx) {
      const records = await collect(
        ctx.client().iterateAuditRecords({ ...auditQuery(ctx.values), limit: 100 }),
        int(ctx.values, 'limit') ?? 50,
      );
      ctx.out(table(records, AUDIT_COLUMNS), records);
      return EXIT.ok;
    },
  },
  'audit tail': {
    usage: 'audit tail [--follow] [--lines N (default 10)] [--interval-ms N (default 2000)] [--agent A [--profile P]] [--action A]',
    summary: 'The latest records, oldest first; --follow keeps polling for new ones (Ctrl-C stops)',
    options: {
      ...AUDIT_FILTERS,
      follow: { type: 'boolean', short: 'f' },
      lines: { type: 'string', short: 'n' },
      'interval-ms': { type: 'string' },
    },
    arity: [0, 0],
    async run(ctx) {
      const client = ctx.client();
      const query = auditQuery(ctx.values);
      // Ids already printed, with their time: records at or after `since` come back on every poll.
      const seen = new Map<string, string>();
      const print = (records: AuditRecord[], header: boolean) => {
        if (ctx.json) {
          for (const r of records) ctx.io.stdout(`${JSON.stringify(r)}\n`);
          return;
        }
        const text = table(records, AUDIT_COLUMNS);
        if (records.length === 0) {
          if (header) ctx.io.stdout(text);
          return;
        }
        ctx.io.stdout(header ? text : text.slice(text.indexOf('\n') + 1));
      };
      const first = (await collect(client.iterateAuditRecords({ ...query, limit: 100 }), int(ctx.values, 'lines') ?? 10)).reverse();
      for (const r of first) seen.set(r.id, r.at);
      print(first, true);
      if (!ctx.values.follow) return EXIT.ok;
      const every = int(ctx.values, 'interval-ms') ?? 2000;
      let since = first.at(-1)?.at ?? new Date().toISOString();
      while (await waitOrStop(every, ctx.io.signal)) {
        const fresh: AuditRecord[] = [];
        // Newest first, from `since` (records of the same instant are told apart by id).
        for await (const r of client.iterateAuditRecords({ ...query, since, limit: 100 })) if (!seen.has(r.id)) fresh.push(r);
        fresh.reverse();
        for (const r of fresh) seen.set(r.id, r.at);
        if (fresh.length > 0) since = fresh.at(-1)?.at ?? since;
        for (const [id, at] of seen) if (at < since) seen.delete(id);
        print(fresh, false);
      }
      return EXIT.ok;
    },
  },

  'api-keys list': {
    usage: 'api-keys list',
    summary: "The tenant's API keys (admin; never a secret)",
    arity: [0, 0],
    async run(ctx) {
      const keys = await collect(ctx.client().iterateApiKeys({ limit: 100 }), undefined);
      ctx.out(
        table(keys, [
          ['KEY_ID', (k) => k.key_id],
          ['NAME', (k) => k.name],
          ['ROLE', (k) => k.role],
          ['CREATED_AT', (k) => k.created_at],
        ]),
        keys,
      );
      return EXIT.ok;
    },
  },
  'api-keys create': {
    usage: 'api-keys create <name> [--role member|admin (default member)]',
    summary: 'Mint an API key (admin); prints it once',
    options: { role: { type: 'string' } },
    arity: [1, 1],
    async run(ctx) {
      const k = await ctx
        .client()
        .createApiKey({ name: ctx.args[0], role: str(ctx.values, 'role') ?? 'member' } as RequestBody<'createApiKey'>);
      ctx.out(
        `${fields([
          ['key_id', k.key_id],
          ['name', k.name],
          ['role', k.role],
        ])}\n${shownOnce('API key', k.api_key)}`,
        k,
      );
      return EXIT.ok;
    },
  },
  'api-keys revoke': {
    usage: 'api-keys revoke <key_id>',
    summary: 'Revoke an API key (admin)',
    arity: [1, 1],
    async run(ctx) {
      await ctx.client().revokeApiKey(ctx.args[0] as string);
      ctx.out(`revoked ${ctx.args[0]}\n`, { revoked: true, key_id: ctx.args[0] });
      return EXIT.ok;
    },
  },
  'webhooks list': {
    usage: 'webhooks list [--limit N]',
    summary: "The tenant's webhooks (admin; never a secret)",
    options: { limit: { type: 'string' } },
    arity: [0, 0],
    async run(ctx) {
      const hooks = await collect(ctx.client().iterateWebhooks({ limit: 100 }), int(ctx.values, 'limit'));
      ctx.out(table(hooks, WEBHOOK_COLUMNS), hooks);
      return EXIT.ok;
    },
  },
  'webhooks create': {
    usage: 'webhooks create <url> --event TYPE… [--description D] [--inactive]',
    summary: 'Subscribe a URL to events (admin); prints its signing secret once',
    options: { event: { type: 'string', multiple: true }, description: { type: 'string' }, inactive: { type: 'boolean' } },
    arity: [1, 1],
    async run(ctx) {
      const events = list(ctx.values, 'event');
      if (events.length === 0)
        throw new UsageError(
          'name the events to deliver: --event TYPE (repeatable), e.g. --event profile.deleted --event connection.needs_reauth',
        );
      const body = {
        url: ctx.args[0],
        events,
        ...(str(ctx.values, 'description') !== undefined ? { description: str(ctx.values, 'description') } : {}),
        ...(ctx.values.inactive ? { active: false } : {}),
      };
      const w = await ctx.client().createWebhook(body as RequestBody<'createWebhook'>);
      ctx.out(`${webhookFields(w)}\n${shownOnce('signing secret', w.signing_secret)}`, w);
      return EXIT.ok;
    },
  },
  'webhooks get': {
    usage: 'webhooks get <webhook_id>',
    summary: 'Show a webhook (never its secret)',
    arity: [1, 1],
    async run(ctx) {
      const w = await ctx.client().getWebhook(ctx.args[0] as string);
      ctx.out(webhookFields(w), w);
      return EXIT.ok;
    },
  },
  'webhooks update': {
    usage: 'webhooks update <webhook_id> [--url URL] [--event TYPE]… [--description D | --clear-description] [--active true|false]',
    summary: 'Change a webhook: what you pass replaces the stored value (--event: the whole list), the rest is kept',
    options: {
      url: { type: 'string' },
      event: { type: 'string', multiple: true },
      description: { type: 'string' },
      'clear-description': { type: 'boolean' },
      active: { type: 'string' },
    },
    arity: [1, 1],
    async run(ctx) {
      const v = ctx.values;
      const body: Record<string, unknown> = {};
      if (str(v, 'url') !== undefined) body.url = str(v, 'url');
      if (list(v, 'event').length > 0) body.events = list(v, 'event');
      if (str(v, 'description') !== undefined) body.description = str(v, 'description');
      if (v['clear-description']) body.description = null;
      if (str(v, 'active') !== undefined) body.active = bool(v, 'active');
      if (Object.keys(body).length === 0)
        throw new UsageError('nothing to change: pass --url, --event, --description, --clear-description or --active');
      const w = await ctx.client().updateWebhook(ctx.args[0] as string, body as RequestBody<'updateWebhook'>);
      ctx.out(webhookFields(w), w);
      return EXIT.ok;
    },
  },
  'webhooks delete': {
    usage: 'webhooks delete <webhook_id>',
    summary: 'Delete a webhook (admin); its pending deliveries fail as webhook_deleted',
    arity: [1, 1],
    async run(ctx) {
      await ctx.client().deleteWebhook(ctx.args[0] as string);
      ctx.out(`deleted webhook ${ctx.args[0]}\n`, { deleted: true, webhook_id: ctx.args[0] });
      return EXIT.ok;
    },
  },
  'webhooks rotate-secret': {
    usage: 'webhooks rotate-secret <webhook_id>',
    summary: 'Issue a new signing secret (printed once); later deliveries are signed with it alone',
    arity: [1, 1],
    async run(ctx) {
      const s = await ctx.client().rotateWebhookSecret(ctx.args[0] as string);
      ctx.out(shownOnce('signing secret', s.signing_secret), s);
      return EXIT.ok;
    },
  },
  'webhooks deliveries': {
    usage: 'webhooks deliveries <webhook_id> [--limit N (default 50)]',
    summary: "A webhook's delivery log, newest first: event, status, attempts, last HTTP status, outcome (never the payload)",
    options: { limit: { type: 'string' } },
    arity: [1, 1],
    async run(ctx) {
      const deliveries = await collect(
        ctx.client().iterateWebhookDeliveries(ctx.args[0] as string, { limit: 100 }),
        int(ctx.values, 'limit') ?? 50,
      );
      ctx.out(table(deliveries, DELIVERY_COLUMNS), deliveries);
      return EXIT.ok;
    },
  },
  'webhooks test': {
    usage: 'webhooks test <webhook_id>',
    summary: 'Queue a webhook.test event to this webhook; see its outcome with `webhooks deliveries`',
    arity: [1, 1],
    async run(ctx) {
      const t = await ctx.client().sendWebhookTestEvent(ctx.args[0] as string);
      ctx.out(`queued test event ${t.event_id} (delivery ${t.delivery_id})\n  agent-vault webhooks deliveries ${ctx.args[0]}\n`, t);
      return EXIT.ok;
    },
  },
  health: {
    usage: 'health',
    summary: 'Whether the vault answers (no API key needed)',
    arity: [0, 0],
    async run(ctx) {
      const h = await ctx.client().getHealth();
      ctx.out(`${h.status}\n`, h);
      return EXIT.ok;
    },
  },
};

const GROUPS = ['agents', 'profiles', 'runs', 'audit', 'api-keys', 'webhooks'];

export function helpText(): string {
  const lines = Object.values(commands).map((c) => `  agent-vault ${c.usage}\n      ${c.summary}`);
  return [
    'agent-vault: the command line for an agent-vault (local or deployed).',
    '',
    'Configuration: AGENT_VAULT_URL (e.g. http://127.0.0.1:3000), AGENT_VAULT_API_KEY (avk_…);',
    'auth tokens: --token or AGENT_VAULT_AUTH_TOKEN. Global flags: --json (machine output), --vault-url URL (instead of AGENT_VAULT_URL), --timeout-ms N.',
    '',
    ...lines,
    '',
    'Exit codes: 0 ok, 1 usage or invalid request, 2 not found, 3 auth refused, 4 conflict, 5 vault unreachable or failing, 6 check failed.',
    '',
  ].join('\n');
}

/** The command's words (`agents list`, `proxy`) found before parsing its options. */
function commandWords(argv: readonly string[]): string[] {
  const words: string[] = [];
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    const a = argv[i] as string;
    if (a === '--vault-url' || a === '--timeout-ms') {
      i++;
      continue;
    }
    if (a.startsWith('-')) continue;
    words.push(a);
    if (words.length === 1 && !GROUPS.includes(a)) break;
  }
  return words;
}

/** Runs one command line and returns its exit code; writes only through `io`. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const json = argv.includes('--json');
  const fail = (code: number, message: string, extra: Record<string, unknown> = {}) => {
    io.stderr(json ? `${JSON.stringify({ error: { message, exit_code: code, ...extra } })}\n` : `agent-vault: ${message}\n`);
    return code;
  };
  const words = commandWords(argv);
  const name = words.join(' ');
  const command = commands[name];
  if (!command) {
    if (words.length === 0 || words[0] === 'help' || argv.includes('--help') || argv.includes('-h')) {
      const group = words[0] && GROUPS.includes(words[0]) ? words[0] : undefined;
      io.stdout(
        group
          ? `${Object.entries(commands)
              .filter(([k]) => k.startsWith(`${group} `))
              .map(([, c]) => `agent-vault ${c.usage}\n    ${c.summary}`)
              .join('\n')}\n`
          : helpText(),
      );
      return words.length === 0 && !argv.includes('--help') && !argv.includes('-h') ? EXIT.usage : EXIT.ok;
    }
    const known = GROUPS.includes(words[0] as string)
      ? Object.keys(commands).filter((k) => k.startsWith(`${words[0]} `))
      : Object.keys(commands);
    return fail(EXIT.usage, `unknown command "${name}"; try: ${known.join(', ')} (agent-vault --help)`);
  }
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      options: { ...GLOBAL, ...command.options },
      allowPositionals: true,
      strict: true,
    }) as { values: Values; positionals: string[] });
  } catch (err) {
    return fail(EXIT.usage, `${err instanceof Error ? err.message.split('\n')[0] : 'bad arguments'}\nusage: agent-vault ${command.usage}`);
  }
  if (values.help) {
    io.stdout(`agent-vault ${command.usage}\n    ${command.summary}\n`);
    return EXIT.ok;
  }
  const args = positionals.slice(words.length);
  const [min, max] = command.arity;
  if (args.length < min || args.length > max)
    return fail(
      EXIT.usage,
      `${name} takes ${min === max ? min : `${min}-${max}`} argument${max === 1 ? '' : 's'}, got ${args.length}\nusage: agent-vault ${command.usage}`,
    );

  const baseUrl = (values['vault-url'] as string | undefined) ?? io.env.AGENT_VAULT_URL;
  const ctx: Ctx = {
    io,
    json,
    args,
    values,
    client() {
      if (!baseUrl)
        throw new UsageError("set AGENT_VAULT_URL to the vault's address (e.g. http://127.0.0.1:3000 for `npm start`, or your API's URL)");
      const apiKey = io.env.AGENT_VAULT_API_KEY;
      if (!apiKey && name !== 'health')
        throw new UsageError('set AGENT_VAULT_API_KEY to an API key of the vault (avk_…; `npm start` prints one on first start)');
      try {
        return new VaultClient({ baseUrl, apiKey, timeoutMs: int(values, 'timeout-ms'), headers: { 'user-agent': 'agent-vault-cli' } });
      } catch (err) {
        throw new UsageError(`AGENT_VAULT_URL: ${(err as Error).message}`);
      }
    },
    out(human, machine) {
      io.stdout(json ? `${JSON.stringify(machine, null, 2)}\n` : human);
    },
  };
  try {
    return (await command.run(ctx)) ?? EXIT.ok;
  } catch (err) {
    if (err instanceof UsageError) return fail(EXIT.usage, err.message);
    if (err instanceof VaultError) {
      const code =
        err.status === 404
          ? EXIT.notFound
          : err.status === 401 || err.status === 403
            ? EXIT.auth
            : err.status === 409
              ? EXIT.conflict
              : err.status >= 400 && err.status < 429
                ? EXIT.usage
                : EXIT.unavailable;
      const hint =
        err.status === 401 && err.code === 'unauthorized'
          ? ' (check AGENT_VAULT_API_KEY: revoked, mistyped, or a key of another vault?)'
          : err.status === 429 || err.status >= 500
            ? ` (after retries; request id ${err.requestId ?? '-'})`
            : '';
      const details = Object.keys(err.details).length > 0 && !json ? `\n${JSON.stringify(err.details)}` : '';
      return fail(code, `${err.message}${hint} [HTTP ${err.status} ${err.code}]${details}`, {
        status: err.status,
        code: err.code,
        request_id: err.requestId,
        ...err.details,
      });
    }
    if (err instanceof VaultConnectionError) {
      return fail(EXIT.unavailable, `${err.message}${err.kind === 'network' ? ' (check AGENT_VAULT_URL; locally: `npm start`)' : ''}`, {
        code: err.kind,
      });
    }
    return fail(EXIT.unavailable, `unexpected failure: ${err instanceof Error ? err.name : 'error'}`);
  }
}
