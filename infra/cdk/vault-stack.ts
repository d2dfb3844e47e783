import { Annotations, CfnOutput, Duration, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { RouteGroup } from '#shared/http/routes';
import type { VaultDeployConfig } from './config.ts';
import { AsyncRuns } from './constructs/async-runs.ts';
import { VaultAlarms } from './constructs/vault-alarms.ts';
import { VaultApi } from './constructs/vault-api.ts';
import { VaultData } from './constructs/vault-data.ts';
import { VaultFunction } from './constructs/vault-function.ts';
import { WEBHOOK_MAX_ATTEMPTS, WEBHOOK_RETRY_BASE_MS, WebhookDeliveries } from './constructs/webhook-deliveries.ts';
import { handlerEntry } from './paths.ts';

/** Properties of VaultStack: the stack's own props plus the deployment settings. */
export interface VaultStackProps extends StackProps {
  readonly config: VaultDeployConfig;
}

/** The route groups, their handler files (functions/<group>.ts) and how each is set up. */
const API_FUNCTIONS: Readonly<
  Record<RouteGroup, { readonly description: string; readonly timeout: Duration; readonly usesVault: boolean }>
> = {
  agents: { description: 'Agents API: create, list, read, update, delete agents', timeout: Duration.seconds(10), usesVault: true },
  profiles: {
    description: 'Auth profiles API: create / upsert, list, read, delete profiles',
    timeout: Duration.seconds(10),
    usesVault: true,
  },
  // API keys: the one function whose role may write APIKEY# items (bindTable's apiKeyWrites).
  keys: { description: 'API keys API: mint, list, revoke tenant API keys (admin only)', timeout: Duration.seconds(10), usesVault: true },
  // Tenant webhooks: admin only, like API keys; sending goes through the delivery worker.
  webhooks: { description: 'Webhooks API: tenant webhooks, their delivery log and test events (admin only)', timeout: Duration.seconds(10), usesVault: true },
  // A synchronous run waits for the runner; API Gateway gives up at 30 s.
  runs: { description: 'Runs API: run_agent and run status', timeout: Duration.seconds(29), usesVault: true },
  // Storage-free: OpenAPI document, health check, JSON 404/405. No table, no key.
  meta: {
    description: 'OpenAPI document, health check, and JSON 404/405 for unknown routes',
    timeout: Duration.seconds(5),
    usesVault: false,
  },
};

/** The synth/deploy warning when no runner host allow-list is configured. */
export const ALLOWED_RUNNER_HOSTS_WARNING =
  "allowedRunnerHosts is empty: runner webhooks may use ANY public host, so anyone who can write an agent item can send the next run's credentials to a host of their choosing. Set -c allowedRunnerHosts=runner.example.com (or the context block of cdk.json) to the hosts your runners use.";

/**
 * The whole vault in one stack: the table, server key and KMS keys (VaultData), one function per
 * route group behind an HTTP API (VaultApi), async runs through a KMS-sealed worker hand-off
 * (AsyncRuns), and alarms (VaultAlarms).
 */
export class VaultStack extends Stack {
  readonly data: VaultData;
  readonly asyncRuns: AsyncRuns;
  readonly webhookDeliveries: WebhookDeliveries;
  readonly apiFunctions: Readonly<Record<RouteGroup, VaultFunction>>;
  readonly api: VaultApi;
  readonly alarms: VaultAlarms;

  constructor(scope: Construct, id: string, props: VaultStackProps) {
    super(scope, id, {
      description: `agent-vault (${props.config.stage}): serverless credential vault for AI-agent platforms`,
      ...props,
    });
    const { config } = props;
    Tags.of(this).add('app', 'agent-vault');
    Tags.of(this).add('stage', config.stage);

    if (config.allowedRunnerHosts.length === 0) {
      // Shown by `cdk synth` and `cdk deploy` (and fatal with `--strict`).
      Annotations.of(this).addWarningV2('agent-vault:allowed-runner-hosts-empty', ALLOWED_RUNNER_HOSTS_WARNING);
    }

    this.data = new VaultData(this, 'Data', { stage: config.stage });

    // Read by shared/config.ts in every function that touches the vault.
    const vaultEnvironment = {
      VAULT_RUN_RETENTION_DAYS: String(config.runRetentionDays),
      VAULT_ALLOWED_RUNNER_HOSTS: config.allowedRunnerHosts.join(','),
      // Delegated OAuth: where end users may be sent back after connecting (none: refused), and,
      // with a custom domain, the stable base of the callback registered at providers.
      VAULT_ALLOWED_RETURN_HOSTS: config.allowedReturnHosts.join(','),
      ...(config.domainName ? { VAULT_PUBLIC_URL: `https://${config.domainName}` } : {}),
      // Per-tenant fixed-window limit after authentication (0 = off); the API-wide throttle
      // above cannot tell tenants apart.
      VAULT_TENANT_RATE_LIMIT: String(config.tenantRateLimit),
      // Runner webhooks must be public addresses: a runner URL must not reach into the VPC or
      // the instance metadata endpoint.
      VAULT_ALLOW_PRIVATE_RUNNERS: 'false',
      // Tenant webhooks follow the runner rules: public https hosts, optionally an allow-list.
      VAULT_ALLOW_PRIVATE_WEBHOOKS: 'false',
      VAULT_ALLOWED_WEBHOOK_HOSTS: config.allowedWebhookHosts.join(','),
      // One attempt per worker invocation plus Lambda's two async retries (webhook-deliveries.ts).
      VAULT_WEBHOOK_MAX_ATTEMPTS: String(WEBHOOK_MAX_ATTEMPTS),
      VAULT_WEBHOOK_RETRY_BASE_MS: String(WEBHOOK_RETRY_BASE_MS),
      // Read by nobody: changing it replaces the warm instances, which then re-read the server
      // key ring (the rotation procedure in the deploy guide).
      VAULT_SERVER_KEY_EPOCH: String(config.serverKeyEpoch),
      // X-Ray through Powertools' Tracer (context `tracing`); VaultFunction turns on active tracing.
      ...(config.tracing ? { VAULT_TRACING: 'true' } : {}),
    };

    this.asyncRuns = new AsyncRuns(this, 'AsyncRuns', {
      stage: config.stage,
      data: this.data,
      logRetention: config.logRetentionDays,
      environment: vaultEnvironment,
      workerReservedConcurrency: config.workerReservedConcurrency,
    });

    this.webhookDeliveries = new WebhookDeliveries(this, 'WebhookDeliveries', {
      data: this.data,
      logRetention: config.logRetentionDays,
      environment: vaultEnvironment,
    });

    const fns = {} as Record<RouteGroup, VaultFunction>;
    for (const [group, spec] of Object.entries(API_FUNCTIONS) as [RouteGroup, (typeof API_FUNCTIONS)[RouteGroup]][]) {
      const fn = new VaultFunction(this, `${capitalize(group)}Function`, {
        entry: handlerEntry(group),
        description: spec.description,
        logRetention: config.logRetentionDays,
        timeout: spec.timeout,
        environment: spec.usesVault ? vaultEnvironment : {},
      });
      if (spec.usesVault) {
        fn.bindTable(this.data.table, 'RW', { apiKeyWrites: group === 'keys' });
        fn.bindServerKey(this.data.serverKey);
      }
      fns[group] = fn;
    }
    this.asyncRuns.grantDispatch(fns.runs);
    // The functions that publish webhook events: agents (profile.deleted for the profiles a
    // forced delete removes), profiles (profile.deleted; connection events from the connect flow
    // and refreshes on use by the proxy and test), runs and the async-run worker (refreshes on
    // use by a run) and webhooks (test events).
    this.webhookDeliveries.grantPublish(fns.agents);
    this.webhookDeliveries.grantPublish(fns.profiles);
    this.webhookDeliveries.grantPublish(fns.runs);
    this.webhookDeliveries.grantPublish(this.asyncRuns.worker);
    this.webhookDeliveries.grantPublish(fns.webhooks);
    this.apiFunctions = fns;

    this.api = new VaultApi(this, 'Api', {
      handlers: fns,
      throttle: { rateLimit: config.throttleRateLimit, burstLimit: config.throttleBurstLimit },
      logRetention: config.logRetentionDays,
      ...(config.domainName && config.certificateArn
        ? { customDomain: { domainName: config.domainName, certificateArn: config.certificateArn } }
        : {}),
    });

    this.alarms = new VaultAlarms(this, 'Alarms', {
      stage: config.stage,
      api: this.api.api,
      functions: {
        Agents: fns.agents,
        Profiles: fns.profiles,
        Runs: fns.runs,
        Keys: fns.keys,
        Meta: fns.meta,
        RunWorker: this.asyncRuns.worker,
        RunFailureHandler: this.asyncRuns.failureHandler,
        Webhooks: fns.webhooks,
        WebhookWorker: this.webhookDeliveries.worker,
        WebhookFailureHandler: this.webhookDeliveries.failureHandler,
      },
      table: this.data.table,
      failureQueue: this.asyncRuns.failureQueue,
      poisonQueue: this.asyncRuns.poisonQueue,
      webhookFailureQueue: this.webhookDeliveries.failureQueue,
      webhookPoisonQueue: this.webhookDeliveries.poisonQueue,
      ...(config.alarmTopicArn ? { alarmTopicArn: config.alarmTopicArn } : {}),
    });

    new CfnOutput(this, 'ApiUrl', { description: 'Base URL of the vault API', value: this.api.url });
    new CfnOutput(this, 'TableName', {
      description: 'DynamoDB table (VAULT_TABLE_NAME for the admin CLI)',
      value: this.data.table.tableName,
    });
    new CfnOutput(this, 'ServerKeySecretArn', {
      description: 'Secrets Manager secret holding the server key ring',
      value: this.data.serverKey.secretArn,
    });
    new CfnOutput(this, 'AlarmTopicArn', { description: 'SNS topic the alarms notify', value: this.alarms.topic.topicArn });
    if (this.api.domain) {
      new CfnOutput(this, 'CustomDomainTarget', {
        description: 'Point a CNAME (or a Route 53 alias with CustomDomainHostedZoneId) for the custom domain here',
        value: this.api.domain.regionalDomainName,
      });
      new CfnOutput(this, 'CustomDomainHostedZoneId', {
        description: 'Hosted zone id for a Route 53 alias record',
        value: this.api.domain.regionalHostedZoneId,
      });
    }
  }
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
