/**
 * Configuration, read from the environment once (at cold start in Lambda, at start-up locally).
 * This is the only module that reads `process.env`; everything else receives a `Config`.
 */
export type VaultMode = 'local' | 'aws';

export interface Config {
  /** `local`: embedded store, server key in the data folder. `aws`: deployed behind API Gateway. */
  readonly mode: VaultMode;
  readonly tableName: string;
  /** DynamoDB endpoint override (dynalite, DynamoDB Local); unset on AWS. */
  readonly dynamoEndpoint?: string;
  readonly region: string;
  /** Local mode: where dynalite's files and the server key live. */
  readonly dataDir: string;
  /** AWS mode: Secrets Manager id (ARN or name) of the server key ring. */
  readonly serverKeySecretId?: string;
  /** How long run records are kept before they expire (TTL + checked on read). */
  readonly runRetentionSeconds: number;
  /** Allow runner URLs on loopback / private / link-local addresses (local mode default: true). */
  readonly allowPrivateRunners: boolean;
  /** Allow the proxy and profile tests to call loopback / private / link-local addresses (local mode default: true). */
  readonly allowPrivateUpstreams: boolean;
  /** How long the proxy and profile tests wait for an upstream answer (the profiles function times out at 10 s on AWS). */
  readonly proxyTimeoutMs: number;
  /** If non-empty, runner URLs must have one of these host names. */
  readonly allowedRunnerHosts: readonly string[];
  /** Allow webhook URLs on loopback / private / link-local addresses (local mode default: true), like runners. */
  readonly allowPrivateWebhooks: boolean;
  /** If non-empty, webhook URLs must have one of these host names (like allowedRunnerHosts). */
  readonly allowedWebhookHosts: readonly string[];
  /** Attempts per webhook delivery, the first included (local default 5; AWS 3: the first and Lambda's two async retries). */
  readonly webhookMaxAttempts: number;
  /** Backoff before the second attempt, doubling each time (local default 2 s; AWS 60 s, Lambda's own retry spacing). */
  readonly webhookRetryBaseMs: number;
  /** How long one delivery attempt waits for the receiver. */
  readonly webhookTimeoutMs: number;
  /** How long delivery log entries are kept (TTL + checked on read). */
  readonly webhookDeliveryRetentionSeconds: number;
  /** AWS mode: the function that delivers webhook events. */
  readonly webhookWorkerFunctionName?: string;
  /**
   * Hosts an oauth2_authorization_code profile's return_url may name (VAULT_ALLOWED_RETURN_HOSTS,
   * comma-separated). Deployed, a return_url must be https and its host listed here (none listed:
   * every return_url is refused); locally, any host when the list is empty.
   */
  readonly allowedReturnHosts: readonly string[];
  /**
   * The vault's public base URL (VAULT_PUBLIC_URL), from which connect links and the OAuth
   * callback (the redirect_uri registered at the provider) are built; unset: the base URL of the
   * request that makes them.
   */
  readonly publicUrl?: string;
  /** AWS mode: the worker function that executes async runs. */
  readonly runWorkerFunctionName?: string;
  /** AWS mode: KMS key that wraps async run payloads for the worker. */
  readonly runPayloadKeyId?: string;
  /**
   * AWS mode: how long a sealed async-run job may wait in the table (DynamoDB TTL, checked on
   * read). The stack sets it to the worker's latest start plus its timeout plus a margin.
   */
  readonly runJobTtlSeconds: number;
  /**
   * Requests per second one tenant may make (a fixed one-second window counted in the table,
   * after authentication); above it: 429 with Retry-After. 0 turns the limit off. Default: 25 on
   * AWS, off locally.
   */
  readonly tenantRateLimit: number;
  /**
   * Longest a synchronous run may wait for its runner. On AWS the API Gateway integration stops
   * waiting at 30 s, so sync waits are capped below the 29 s function timeout; async runs wait the
   * agent's full timeout_ms in the worker.
   */
  readonly syncRunMaxMs: number;
  /** How long audit records are kept (VAULT_AUDIT_RETENTION_DAYS, TTL + checked on read). */
  readonly auditRetentionSeconds: number;
  /** A profile used within this window is "in use": deleting it needs ?force=true (VAULT_IN_USE_WINDOW_HOURS). */
  readonly inUseWindowMs: number;
  /** Local server port. */
  readonly port: number;
  /** Local server: make sure a tenant with this API key exists at start. */
  readonly bootstrapApiKey?: string;
  readonly bootstrapTenant: string;
}

/** A sealed job's TTL when the stack sets none: the worker's 1 h maximum event age + 15 min run + 15 min. */
export const DEFAULT_RUN_JOB_TTL_SECONDS = 5_400;
/** Per-tenant requests per second on AWS when unset: half the stack's default API throttle (50/s). */
export const DEFAULT_AWS_TENANT_RATE_LIMIT = 25;

type Env = Readonly<Record<string, string | undefined>>;

class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function intFrom(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return n;
}

function boolFrom(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(1|true|yes)$/i.test(raw)) return true;
  if (/^(0|false|no)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

/** A comma-separated list of host names, lower case, without empty entries. */
function hostList(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
}

/** VAULT_PUBLIC_URL: an absolute http(s) origin with an optional path (https when deployed), no trailing slash. */
function publicUrlFrom(raw: string | undefined, mode: VaultMode): string | undefined {
  if (!raw) return undefined;
  if (!URL.canParse(raw)) throw new ConfigError(`VAULT_PUBLIC_URL must be an absolute URL such as https://vault.example.com, got "${raw}"`);
  const url = new URL(raw);
  if (url.protocol !== 'https:' && (mode === 'aws' || url.protocol !== 'http:')) throw new ConfigError(`VAULT_PUBLIC_URL must use https${mode === 'aws' ? ' in deployed mode' : ' or http'}, got "${raw}"`);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** Builds a Config from an environment map; throws a ConfigError naming the bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const modeRaw = env.VAULT_MODE ?? (env.AWS_LAMBDA_FUNCTION_NAME ? 'aws' : 'local');
  if (modeRaw !== 'local' && modeRaw !== 'aws') {
    throw new ConfigError(`VAULT_MODE must be "local" or "aws", got "${modeRaw}"`);
  }
  const mode: VaultMode = modeRaw;
  const tableName = env.VAULT_TABLE_NAME || (mode === 'local' ? 'agent-vault' : undefined);
  if (!tableName) throw new ConfigError('VAULT_TABLE_NAME is required in aws mode');
  const retentionDays = intFrom(env, 'VAULT_RUN_RETENTION_DAYS', 7, 1, 3650);
  return {
    mode,
    tableName,
    dynamoEndpoint: env.VAULT_DYNAMODB_ENDPOINT || undefined,
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || (mode === 'local' ? 'local' : 'us-east-1'),
    dataDir: env.VAULT_DATA_DIR || '.data',
    serverKeySecretId: env.VAULT_SERVER_KEY_SECRET_ID || undefined,
    runRetentionSeconds: retentionDays * 86_400,
    allowPrivateRunners: boolFrom(env, 'VAULT_ALLOW_PRIVATE_RUNNERS', mode === 'local'),
    allowPrivateUpstreams: boolFrom(env, 'VAULT_ALLOW_PRIVATE_UPSTREAMS', mode === 'local'),
    proxyTimeoutMs: intFrom(env, 'VAULT_PROXY_TIMEOUT_MS', 8_000, 100, mode === 'aws' ? 9_000 : 300_000),
    allowedRunnerHosts: (env.VAULT_ALLOWED_RUNNER_HOSTS ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
    allowPrivateWebhooks: boolFrom(env, 'VAULT_ALLOW_PRIVATE_WEBHOOKS', mode === 'local'),
    allowedWebhookHosts: (env.VAULT_ALLOWED_WEBHOOK_HOSTS ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
    webhookMaxAttempts: intFrom(env, 'VAULT_WEBHOOK_MAX_ATTEMPTS', mode === 'aws' ? 3 : 5, 1, 10),
    webhookRetryBaseMs: intFrom(env, 'VAULT_WEBHOOK_RETRY_BASE_MS', mode === 'aws' ? 60_000 : 2_000, 1, 3_600_000),
    webhookTimeoutMs: intFrom(env, 'VAULT_WEBHOOK_TIMEOUT_MS', 10_000, 100, 30_000),
    webhookDeliveryRetentionSeconds: intFrom(env, 'VAULT_WEBHOOK_DELIVERY_RETENTION_DAYS', 7, 1, 90) * 86_400,
    webhookWorkerFunctionName: env.VAULT_WEBHOOK_WORKER_FUNCTION || undefined,
    allowedReturnHosts: hostList(env.VAULT_ALLOWED_RETURN_HOSTS),
    publicUrl: publicUrlFrom(env.VAULT_PUBLIC_URL, mode),
    runWorkerFunctionName: env.VAULT_RUN_WORKER_FUNCTION || undefined,
    runPayloadKeyId: env.VAULT_RUN_PAYLOAD_KEY_ID || undefined,
    runJobTtlSeconds: intFrom(env, 'VAULT_RUN_JOB_TTL_SECONDS', DEFAULT_RUN_JOB_TTL_SECONDS, 60, 86_400),
    tenantRateLimit: intFrom(env, 'VAULT_TENANT_RATE_LIMIT', mode === 'aws' ? DEFAULT_AWS_TENANT_RATE_LIMIT : 0, 0, 100_000),
    syncRunMaxMs: intFrom(env, 'VAULT_SYNC_RUN_MAX_MS', mode === 'aws' ? 25_000 : 900_000, 100, 900_000),
    auditRetentionSeconds: intFrom(env, 'VAULT_AUDIT_RETENTION_DAYS', 365, 1, 3650) * 86_400,
    inUseWindowMs: intFrom(env, 'VAULT_IN_USE_WINDOW_HOURS', 24, 0, 8760) * 3_600_000,
    port: intFrom(env, 'PORT', 3000, 0, 65_535),
    bootstrapApiKey: env.VAULT_BOOTSTRAP_API_KEY || undefined,
    bootstrapTenant: env.VAULT_BOOTSTRAP_TENANT || 'default',
  };
}

/**
 * Local entry points (`npm start`, `npm run admin`): silences the AWS SDK's multi-line
 * "NodeVersionSupportWarning" on Node < 22, which a newcomer reads as a failure. The SDK checks
 * this variable when a client is constructed, so setting it before the first client suffices.
 * Lambda runs Node 22, where the warning never fires; Node 22 is recommended locally too.
 */
export function silenceSdkNodeVersionWarning(env: Record<string, string | undefined> = process.env): void {
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}
