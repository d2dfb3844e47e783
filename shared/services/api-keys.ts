import { createHash, randomBytes } from 'node:crypto';
import { type AuditDeps, auditedChange } from '../audit/log.ts';
import { type AuditEventInput, eventBy } from '../audit/record.ts';
import type { Caller, Deps } from '../deps.ts';
import { ForbiddenError, IntegrityError, NotFoundError, UnauthorizedError, ValidationError } from '../errors.ts';
import type { ApiKeyItem } from '../schemas/items.ts';
import type { ApiKeyRole } from '../store/types.ts';

export const API_KEY_PREFIX = 'avk_';
const API_KEY_PATTERN = /^avk_[A-Za-z0-9_-]{43}$/;
export const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** SHA-256 (hex) of an API key: the only form in which a key is stored. */
export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex');
}

/** A short, non-secret id of an API key for logs, policy and audit: the first 16 hex digits of its hash. */
export function apiKeyIdOf(apiKey: string): string {
  return hashApiKey(apiKey).slice(0, 16);
}

export function isWellFormedApiKey(apiKey: string): boolean {
  return API_KEY_PATTERN.test(apiKey);
}

function assertTenant(tenant: string): void {
  if (!TENANT_PATTERN.test(tenant)) {
    throw new ValidationError('tenant must be 1-64 characters: letters, digits, "_", "-", starting with a letter or digit');
  }
}

type KeyDeps = Pick<Deps, 'store' | 'now' | 'serverKeys' | 'log'>;

/** Options of a new key: its name (shown in listings) and role; a label is free text for operators. */
export interface NewKeyOptions {
  readonly name?: string;
  readonly role?: ApiKeyRole;
  readonly label?: string;
}

/** What a key is as a principal of its tenant (never its secret). */
export interface Principal {
  readonly tenant: string;
  readonly keyId: string;
  readonly name: string;
  readonly role: ApiKeyRole;
}

/**
 * Mints a new 256-bit API key for a tenant; returns it once, stores only its hash (with its
 * integrity MAC, which covers the role and name too). `label` (a
 * string, the admin CLI's older form) is taken as the name. Default role: admin, as every key
 * was before roles existed (the admin CLI and first-start keys are the tenant's operators).
 */
export async function mintApiKey(deps: KeyDeps, tenant: string, options: NewKeyOptions | string = {}): Promise<string> {
  return (await mintPrincipal(deps, tenant, typeof options === 'string' ? { label: options } : options)).apiKey;
}

/** A new key and the principal it is, not yet stored (its key id is known before the write: write-ahead audit). */
function newPrincipal(deps: KeyDeps, tenant: string, options: NewKeyOptions) {
  assertTenant(tenant);
  const apiKey = API_KEY_PREFIX + randomBytes(32).toString('base64url');
  const hash = hashApiKey(apiKey);
  const keyId = hash.slice(0, 16);
  const name = options.name ?? options.label ?? 'unnamed key';
  const role = options.role ?? 'admin';
  const createdAt = deps.now().toISOString();
  const record = { tenant, label: options.label, created_at: createdAt, key_id: keyId, name, role };
  /** Stores the key (only its hash). */
  const store = async () => {
    if (!(await deps.store.apiKeys.put(hash, record))) throw new Error('API key hash collision'); // 2^-256: a broken RNG, not bad luck
  };
  return { apiKey, principal: { tenant, keyId, name, role } satisfies Principal, created_at: createdAt, store };
}

/** Mints a key and returns it with the principal it is. */
async function mintPrincipal(deps: KeyDeps, tenant: string, options: NewKeyOptions): Promise<{ apiKey: string; principal: Principal; created_at: string }> {
  const { store, ...minted } = newPrincipal(deps, tenant, options);
  await store();
  return minted;
}

/**
 * Local first start: mints a development API key for `tenant` when it has never had one (like
 * `vault server -dev`), and returns it to be printed once; undefined once a key exists.
 */
export async function mintFirstApiKey(deps: KeyDeps, tenant: string): Promise<string | undefined> {
  assertTenant(tenant);
  if (await deps.store.apiKeys.tenantHasKey(tenant)) return undefined;
  return mintApiKey(deps, tenant, { name: 'dev key', label: 'dev key minted at first start', role: 'admin' });
}

/**
 * Makes sure `apiKey` exists for `tenant` (VAULT_BOOTSTRAP_API_KEY), as an admin. Fails if the
 * key is malformed or already belongs to another tenant. A stored item that fails its integrity
 * check (from before MACs, or written without the server key) is replaced: the operator's
 * configuration says whose key this is.
 */
export async function ensureApiKey(deps: KeyDeps, apiKey: string, tenant: string): Promise<'created' | 'exists' | 'replaced'> {
  assertTenant(tenant);
  if (!isWellFormedApiKey(apiKey)) {
    throw new ValidationError('VAULT_BOOTSTRAP_API_KEY must be "avk_" followed by 43 base64url characters (mint one with: npm run admin -- create-api-key)');
  }
  const repo = deps.store.apiKeys;
  const hash = hashApiKey(apiKey);
  const record = {
    tenant,
    label: 'bootstrap',
    created_at: deps.now().toISOString(),
    key_id: hash.slice(0, 16),
    name: 'bootstrap key',
    role: 'admin' as const,
  };
  if (await repo.put(hash, record)) return 'created';
  const existing = await repo.get(hash).catch((err: unknown) => {
    if (!(err instanceof IntegrityError)) throw err;
    return 'failed-integrity-check' as const;
  });
  if (existing === 'failed-integrity-check') {
    deps.log.log('warn', 'bootstrap API key item failed its integrity check; replacing it', { tenant });
    if (await repo.replaceUnverified(hash, record)) return 'replaced';
    throw new Error('the bootstrap API key item changed while it was being replaced; start again');
  }
  if (existing?.tenant !== tenant) throw new ValidationError('VAULT_BOOTSTRAP_API_KEY already belongs to another tenant');
  return 'exists';
}

/**
 * Known API keys (by hash) → principal, kept briefly per process so a warm Lambda or the local
 * server spends no DynamoDB round trip on most authentications. Only successes are cached.
 * Revocation bound: a revoked key is refused at once by the process that revoked it (it drops
 * its entry) and by every other process within AUTH_CACHE_TTL_MS — on AWS, the other warm Lambda
 * instances (docs/api.md, "Principals and sharing").
 */
export const AUTH_CACHE_TTL_MS = 5_000;
const AUTH_CACHE_MAX = 1_000;
const authCache = new Map<string, { principal: Principal; until: number }>();
const cacheKeyOf = (store: Deps['store'], hash: string) => `${store.name}/${hash}`;

/** The principal a stored key item is; a key stored before principals (no role) is an admin. */
function principalOf(hash: string, item: ApiKeyItem): Principal {
  return { tenant: item.tenant, keyId: item.key_id ?? hash.slice(0, 16), name: item.name ?? item.label ?? 'key from before principals', role: item.role ?? 'admin' };
}

/**
 * The principal an API key is; 401 for a missing, malformed, unknown or revoked key, and the same
 * 401 (plus an error log line) for a key whose item fails its integrity check — so a table writer
 * without the server key can neither mint a key nor turn a member into an admin. A key stored
 * before principals (MAC'd, no role) gets its tenant index entry here, once, so it shows in
 * GET /v1/api-keys.
 */
export async function authenticatePrincipal(deps: Pick<Deps, 'store' | 'now' | 'serverKeys' | 'log'>, apiKey: string | undefined): Promise<Principal> {
  if (!apiKey) {
    throw new UnauthorizedError('Missing API key: send "Authorization: Bearer avk_…", an "X-Api-Key" header, or "api_key" in the JSON body');
  }
  if (!isWellFormedApiKey(apiKey)) {
    // The format is public; saying so costs nothing and saves a newcomer a search.
    throw new UnauthorizedError('Malformed API key: an API key is "avk_" followed by 43 base64url characters; check for a truncated or extra character');
  }
  const hash = hashApiKey(apiKey);
  const cacheKey = cacheKeyOf(deps.store, hash);
  const nowMs = deps.now().getTime();
  const cached = authCache.get(cacheKey);
  if (cached && cached.until > nowMs) return cached.principal;
  const repo = deps.store.apiKeys;
  // A key whose item fails its integrity check (logged by the signed store, with the hash prefix) authenticates nothing: the same 401.
  const item = await repo.get(hash).catch((err: unknown) => {
    if (err instanceof IntegrityError) return undefined;
    throw err;
  });
  if (item) {
    const principal = principalOf(hash, item);
    if (item.role === undefined) {
      await repo.putIndex(hash, { tenant: item.tenant, key_id: principal.keyId, name: principal.name, role: principal.role, created_at: item.created_at });
    }
    authCache.delete(cacheKey);
    if (authCache.size >= AUTH_CACHE_MAX) authCache.delete(authCache.keys().next().value as string);
    authCache.set(cacheKey, { principal, until: nowMs + AUTH_CACHE_TTL_MS });
    return principal;
  }
  authCache.delete(cacheKey);
  throw new UnauthorizedError('Invalid API key: check that it is a current avk_… key of your tenant (it may have been revoked)');
}

/** The tenant an API key belongs to; 401 for a missing, malformed, unknown or revoked key. */
export async function authenticateApiKey(deps: Pick<Deps, 'store' | 'now' | 'serverKeys' | 'log'>, apiKey: string | undefined): Promise<string> {
  return (await authenticatePrincipal(deps, apiKey)).tenant;
}

/** 403 forbidden unless the caller's key is an admin of its tenant. */
export function assertAdmin(caller: Caller, what: string): void {
  if (caller.role !== 'admin') {
    throw new ForbiddenError(`${what} needs an admin API key; this key (${caller.apiKeyId}) is a member. Ask an admin of your tenant.`, 'forbidden');
  }
}

/** What the API shows of a key: never its secret or hash. */
export interface ApiKeyView {
  readonly key_id: string;
  readonly name: string;
  readonly role: ApiKeyRole;
  readonly created_at: string;
}

const apiKeyNotFound = (keyId: string) =>
  new NotFoundError(`No API key "${keyId}" in this tenant; list them with GET /v1/api-keys`, 'api_key_not_found');

/** What auditing a key change needs. */
type AuditedKeyDeps = KeyDeps & AuditDeps;

/**
 * The audit event of an API-key change by `caller`: the tenant view only (no agent, no profile);
 * `principal` is the key id created or revoked — never the key or its hash.
 */
function keyEvent(caller: Caller, action: 'api_key_create' | 'api_key_revoke', keyId: string, status: number, role?: ApiKeyRole): AuditEventInput {
  return eventBy(caller, action, status, { principal: keyId, role });
}

/**
 * POST /v1/api-keys (admin; also the admin CLI): a new key of the caller's tenant, shown once.
 * Its audit record is written before the key is stored (write-ahead, shared/audit/log.ts): if it
 * cannot be, no key is stored and the answer is 503 — no key exists that the log does not show.
 */
export async function createApiKey(
  deps: AuditedKeyDeps,
  caller: Caller,
  input: { name: string; role: ApiKeyRole; label?: string },
): Promise<ApiKeyView & { api_key: string }> {
  assertAdmin(caller, 'Creating API keys');
  const { apiKey, principal, created_at, store } = newPrincipal(deps, caller.tenant, input);
  await auditedChange(deps, keyEvent(caller, 'api_key_create', principal.keyId, 201, principal.role), store);
  return { api_key: apiKey, key_id: principal.keyId, name: principal.name, role: principal.role, created_at };
}

/** GET /v1/api-keys (admin): one page of the tenant's keys, without secrets. */
export async function listApiKeys(deps: Pick<Deps, 'store'>, caller: Caller, limit: number, cursor?: string): Promise<{ api_keys: ApiKeyView[]; next_cursor?: string }> {
  assertAdmin(caller, 'Listing API keys');
  const page = await deps.store.apiKeys.list(caller.tenant, limit, cursor);
  return {
    api_keys: page.items.map((i) => ({ key_id: i.key_id, name: i.name, role: i.role, created_at: i.created_at })),
    next_cursor: page.next,
  };
}

/**
 * DELETE /v1/api-keys/{key_id} (admin): the key stops authenticating at once in this process and
 * within AUTH_CACHE_TTL_MS everywhere. An admin may revoke its own key (mint another first).
 */
export async function revokeApiKey(deps: AuditDeps & Pick<Deps, 'store'>, caller: Caller, keyId: string): Promise<void> {
  assertAdmin(caller, 'Revoking API keys');
  const repo = deps.store.apiKeys;
  const entry = await repo.getIndex(caller.tenant, keyId);
  if (!entry) throw apiKeyNotFound(keyId);
  // Write-ahead: no record, no revocation (503, the key still works); a failed delete gets a second record.
  await auditedChange(deps, keyEvent(caller, 'api_key_revoke', keyId, 204), async () => {
    await repo.delete(caller.tenant, keyId, entry.key_hash);
    authCache.delete(cacheKeyOf(deps.store, entry.key_hash));
  });
}
