import { createHash, randomBytes } from 'node:crypto';
import type { Deps } from '../deps.ts';
import { UnauthorizedError, ValidationError } from '../errors.ts';
import { apiKeyItemIntact, signApiKey } from '../integrity.ts';
import { apiKeyRepository } from '../repositories/api-keys.ts';

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

type KeyDeps = Pick<Deps, 'db' | 'now' | 'serverKeys' | 'log'>;

/** Mints a new 256-bit API key for a tenant; returns it once, stores only its hash (with its integrity MAC). */
export async function mintApiKey(deps: KeyDeps, tenant: string, label?: string): Promise<string> {
  assertTenant(tenant);
  const apiKey = API_KEY_PREFIX + randomBytes(32).toString('base64url');
  const hash = hashApiKey(apiKey);
  const stored = await apiKeyRepository(deps.db).put(hash, signApiKey(deps.serverKeys, hash, { tenant, label, created_at: deps.now().toISOString() }));
  if (!stored) throw new Error('API key hash collision'); // 2^-256: a broken RNG, not bad luck
  return apiKey;
}

/**
 * Local first start: mints a development API key for `tenant` when it has never had one (like
 * `vault server -dev`), and returns it to be printed once; undefined once a key exists.
 */
export async function mintFirstApiKey(deps: KeyDeps, tenant: string): Promise<string | undefined> {
  assertTenant(tenant);
  if (await apiKeyRepository(deps.db).tenantHasKey(tenant)) return undefined;
  return mintApiKey(deps, tenant, 'dev key minted at first start');
}

/**
 * Makes sure `apiKey` exists for `tenant` (VAULT_BOOTSTRAP_API_KEY). Fails if the key is
 * malformed or already belongs to another tenant. A stored item that fails its integrity check
 * (from before MACs, or written without the server key) is replaced: the operator's
 * configuration says whose key this is.
 */
export async function ensureApiKey(deps: KeyDeps, apiKey: string, tenant: string): Promise<'created' | 'exists' | 'replaced'> {
  assertTenant(tenant);
  if (!isWellFormedApiKey(apiKey)) {
    throw new ValidationError('VAULT_BOOTSTRAP_API_KEY must be "avk_" followed by 43 base64url characters (mint one with: npm run admin -- create-api-key)');
  }
  const repo = apiKeyRepository(deps.db);
  const hash = hashApiKey(apiKey);
  const record = signApiKey(deps.serverKeys, hash, { tenant, label: 'bootstrap', created_at: deps.now().toISOString() });
  if (await repo.put(hash, record)) return 'created';
  const existing = await repo.get(hash);
  if (existing && !apiKeyItemIntact(deps.serverKeys, hash, existing)) {
    deps.log.log('warn', 'bootstrap API key item failed its integrity check; replacing it', { tenant });
    if (await repo.replaceUnverified(hash, record, existing.mac)) return 'replaced';
    throw new Error('the bootstrap API key item changed while it was being replaced; start again');
  }
  if (existing?.tenant !== tenant) throw new ValidationError('VAULT_BOOTSTRAP_API_KEY already belongs to another tenant');
  return 'exists';
}

/**
 * Known API keys (by hash) → tenant, kept for a minute per process so a warm Lambda or the local
 * server spends no DynamoDB round trip on authentication. Only successes are cached; keys are
 * never deleted by the API today, so the only staleness is a key removed from the table by hand.
 */
const AUTH_CACHE_TTL_MS = 60_000;
const AUTH_CACHE_MAX = 1_000;
const authCache = new Map<string, { tenant: string; until: number }>();

/**
 * The tenant an API key belongs to; 401 for a missing, malformed or unknown key, and for a key
 * whose item fails its integrity check (the same answer, plus an error log line).
 */
export async function authenticateApiKey(deps: Pick<Deps, 'db' | 'serverKeys' | 'log'>, apiKey: string | undefined): Promise<string> {
  if (!apiKey) {
    throw new UnauthorizedError('Missing API key: send "Authorization: Bearer avk_…", an "X-Api-Key" header, or "api_key" in the JSON body');
  }
  if (!isWellFormedApiKey(apiKey)) {
    // The format is public; saying so costs nothing and saves a newcomer a search.
    throw new UnauthorizedError('Malformed API key: an API key is "avk_" followed by 43 base64url characters; check for a truncated or extra character');
  }
  const hash = hashApiKey(apiKey);
  const cacheKey = `${deps.db.tableName}/${hash}`;
  const cached = authCache.get(cacheKey);
  if (cached && cached.until > Date.now()) return cached.tenant;
  const item = await apiKeyRepository(deps.db).get(hash);
  let tenant = item?.tenant;
  if (item && !apiKeyItemIntact(deps.serverKeys, hash, item)) {
    // Who wrote the item is unknown: the hash prefix finds it, the claimed tenant says what it tried.
    deps.log.log('error', 'API key item integrity check failed', { key_hash_prefix: hash.slice(0, 12), claimed_tenant: item.tenant });
    tenant = undefined;
  }
  if (tenant) {
    if (authCache.size >= AUTH_CACHE_MAX) authCache.delete(authCache.keys().next().value as string);
    authCache.set(cacheKey, { tenant, until: Date.now() + AUTH_CACHE_TTL_MS });
    return tenant;
  }
  throw new UnauthorizedError('Invalid API key: check that it is a current avk_… key of your tenant');
}
