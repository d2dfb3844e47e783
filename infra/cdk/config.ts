import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Node } from 'constructs';

/**
 * Deployment settings of the vault stack, read from CDK context (`-c key=value` on the command
 * line, or the `context` block of cdk.json). Every setting has a default that yields a
 * production-ready deployment; docs/deploy.md ("Deploy to AWS") documents them.
 */
export interface VaultDeployConfig {
  /** Names the stack (`AgentVault-<stage>`) so several stages can live in one account. */
  readonly stage: string;
  /** Retention of every log group: API access logs and the functions' logs (days). */
  readonly logRetentionDays: RetentionDays;
  /** API Gateway default-route throttling: steady-state requests per second. */
  readonly throttleRateLimit: number;
  /** API Gateway default-route throttling: burst capacity (requests). */
  readonly throttleBurstLimit: number;
  /** How long run records are kept (DynamoDB TTL; `VAULT_RUN_RETENTION_DAYS`). */
  readonly runRetentionDays: number;
  /**
   * If non-empty, runner webhooks must use one of these host names (`VAULT_ALLOWED_RUNNER_HOSTS`).
   * Empty is allowed but warned about at synth and deploy: any public host may then receive
   * credentials, so someone able to write an agent item could redirect them.
   */
  readonly allowedRunnerHosts: readonly string[];
  /** If non-empty, tenant webhook URLs must use one of these host names (`VAULT_ALLOWED_WEBHOOK_HOSTS`). */
  readonly allowedWebhookHosts: readonly string[];
  /**
   * Hosts an oauth2_authorization_code profile's return_url may name (`VAULT_ALLOWED_RETURN_HOSTS`):
   * where end users are sent back after connecting their account. Empty: every return_url is refused.
   */
  readonly allowedReturnHosts: readonly string[];
  /** Requests per second per tenant (`VAULT_TENANT_RATE_LIMIT`; 429 above it); 0 turns it off. */
  readonly tenantRateLimit: number;
  /** Reserved concurrency of the async-run worker; 0 reserves none (accounts with low limits). */
  readonly workerReservedConcurrency: number;
  /**
   * Bumping it restarts every function that holds the server key ring (a changed environment
   * replaces all warm instances), so that they re-read the secret: step 2 and 4 of a rotation.
   */
  readonly serverKeyEpoch: number;
  /**
   * AWS X-Ray tracing of the functions with Powertools' Tracer (`VAULT_TRACING`). Off by default:
   * when off, the Tracer is not even bundled (its cost: `npm run bench`, section 4b).
   */
  readonly tracing: boolean;
  /** Existing SNS topic for alarm notifications; unset creates an encrypted topic in the stack. */
  readonly alarmTopicArn?: string;
  /** Custom domain for the API (needs `certificateArn`); unset serves on the execute-api URL. */
  readonly domainName?: string;
  /** ACM certificate for `domainName`, in the stack's region. */
  readonly certificateArn?: string;
}

/** The defaults, in one place so that docs/deploy.md and the tests can refer to them. */
export const DEFAULT_DEPLOY_CONFIG = {
  stage: 'prod',
  logRetentionDays: RetentionDays.THREE_MONTHS,
  throttleRateLimit: 50,
  throttleBurstLimit: 100,
  runRetentionDays: 7,
  allowedRunnerHosts: [] as readonly string[],
  allowedWebhookHosts: [] as readonly string[],
  allowedReturnHosts: [] as readonly string[],
  tenantRateLimit: 25,
  workerReservedConcurrency: 20,
  serverKeyEpoch: 1,
  tracing: false,
} as const satisfies Partial<VaultDeployConfig>;

/** The context keys this app reads (docs/deploy.md, "Deploy", lists the same). */
export const CONTEXT_KEYS = [
  'stage',
  'logRetentionDays',
  'throttleRateLimit',
  'throttleBurstLimit',
  'runRetentionDays',
  'allowedRunnerHosts',
  'allowedWebhookHosts',
  'allowedReturnHosts',
  'tenantRateLimit',
  'workerReservedConcurrency',
  'serverKeyEpoch',
  'tracing',
  'alarmTopicArn',
  'domainName',
  'certificateArn',
] as const;

export class DeployConfigError extends Error {
  override readonly name = 'DeployConfigError';
}

/** CloudWatch Logs accepts only these retention periods (days). */
const VALID_RETENTION_DAYS = new Set(
  Object.values(RetentionDays).filter((v): v is RetentionDays => typeof v === 'number' && v !== RetentionDays.INFINITE),
);

type Context = Readonly<Record<string, unknown>>;

function str(ctx: Context, key: string): string | undefined {
  const raw = ctx[key];
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (typeof raw !== 'string') throw new DeployConfigError(`context ${key} must be a string, got ${JSON.stringify(raw)}`);
  return raw.trim();
}

/** Context from the command line is always a string; from cdk.json it may be a number. */
function int(ctx: Context, key: string, fallback: number, min: number, max: number): number {
  const raw = ctx[key];
  if (raw === undefined || raw === null || raw === '') return fallback;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new DeployConfigError(`context ${key} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** A comma-separated string (command line) or a JSON array of strings (cdk.json). */
function list(ctx: Context, key: string): string[] {
  const raw = ctx[key];
  if (raw === undefined || raw === null || raw === '') return [];
  const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : undefined;
  if (!items || items.some((h) => typeof h !== 'string')) {
    throw new DeployConfigError(`context ${key} must be a comma-separated list of host names, got ${JSON.stringify(raw)}`);
  }
  const hosts = (items as string[]).map((h) => h.trim().toLowerCase()).filter(Boolean);
  const bad = hosts.find((h) => !/^[a-z0-9.-]+$/.test(h) || h.length > 253);
  if (bad) throw new DeployConfigError(`context ${key}: "${bad}" is not a host name (give names like api.example.com, no scheme or port)`);
  return hosts;
}

/**
 * Reads and validates the deployment settings from a context map, applying the defaults.
 * Throws a DeployConfigError naming the context key at fault.
 */
export function parseDeployConfig(ctx: Context): VaultDeployConfig {
  const stage = str(ctx, 'stage') ?? DEFAULT_DEPLOY_CONFIG.stage;
  // The stage goes into the stack name and KMS alias names: letters, digits and hyphens only.
  if (!/^[A-Za-z][A-Za-z0-9-]{0,31}$/.test(stage)) {
    throw new DeployConfigError(`context stage must start with a letter and hold at most 32 letters, digits or hyphens, got "${stage}"`);
  }
  const logRetentionDays = int(ctx, 'logRetentionDays', DEFAULT_DEPLOY_CONFIG.logRetentionDays, 1, 3653);
  if (!VALID_RETENTION_DAYS.has(logRetentionDays)) {
    throw new DeployConfigError(
      `context logRetentionDays must be one of the periods CloudWatch Logs accepts (${[...VALID_RETENTION_DAYS].sort((a, b) => a - b).join(', ')}), got ${logRetentionDays}`,
    );
  }
  const throttleRateLimit = int(ctx, 'throttleRateLimit', DEFAULT_DEPLOY_CONFIG.throttleRateLimit, 1, 10_000);
  const throttleBurstLimit = int(ctx, 'throttleBurstLimit', DEFAULT_DEPLOY_CONFIG.throttleBurstLimit, 1, 5_000);
  const runRetentionDays = int(ctx, 'runRetentionDays', DEFAULT_DEPLOY_CONFIG.runRetentionDays, 1, 3650);
  const allowedRunnerHosts = list(ctx, 'allowedRunnerHosts');
  const allowedWebhookHosts = list(ctx, 'allowedWebhookHosts');
  const allowedReturnHosts = list(ctx, 'allowedReturnHosts');
  const tenantRateLimit = int(ctx, 'tenantRateLimit', DEFAULT_DEPLOY_CONFIG.tenantRateLimit, 0, 100_000);
  const workerReservedConcurrency = int(ctx, 'workerReservedConcurrency', DEFAULT_DEPLOY_CONFIG.workerReservedConcurrency, 0, 1_000);
  const serverKeyEpoch = int(ctx, 'serverKeyEpoch', DEFAULT_DEPLOY_CONFIG.serverKeyEpoch, 1, 1_000_000);

  const rawTracing = ctx.tracing;
  if (rawTracing !== undefined && rawTracing !== null && ![true, false, 'true', 'false'].includes(rawTracing as string | boolean)) {
    throw new DeployConfigError(`context tracing must be true or false, got ${JSON.stringify(rawTracing)}`);
  }
  const tracing = rawTracing === true || rawTracing === 'true';

  const alarmTopicArn = str(ctx, 'alarmTopicArn');
  if (alarmTopicArn && !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+$/.test(alarmTopicArn)) {
    throw new DeployConfigError(
      `context alarmTopicArn must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>), got "${alarmTopicArn}"`,
    );
  }
  const domainName = str(ctx, 'domainName')?.toLowerCase();
  const certificateArn = str(ctx, 'certificateArn');
  if (Boolean(domainName) !== Boolean(certificateArn)) {
    throw new DeployConfigError('context domainName and certificateArn go together: give both for a custom domain, or neither');
  }
  if (domainName && !/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(domainName)) {
    throw new DeployConfigError(`context domainName must be a fully qualified host name like vault.example.com, got "${domainName}"`);
  }
  if (certificateArn && !/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/.test(certificateArn)) {
    throw new DeployConfigError(`context certificateArn must be an ACM certificate ARN, got "${certificateArn}"`);
  }

  return {
    stage,
    logRetentionDays,
    throttleRateLimit,
    throttleBurstLimit,
    runRetentionDays,
    allowedRunnerHosts,
    allowedWebhookHosts,
    allowedReturnHosts,
    tenantRateLimit,
    workerReservedConcurrency,
    serverKeyEpoch,
    tracing,
    ...(alarmTopicArn ? { alarmTopicArn } : {}),
    ...(domainName && certificateArn ? { domainName, certificateArn } : {}),
  };
}

/** Reads the deployment settings from a construct tree's context (the App's, in practice). */
export function readDeployConfig(node: Node): VaultDeployConfig {
  const ctx: Record<string, unknown> = {};
  for (const key of CONTEXT_KEYS) ctx[key] = node.tryGetContext(key);
  return parseDeployConfig(ctx);
}
