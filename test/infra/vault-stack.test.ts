import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { CONTEXT_KEYS, DEFAULT_DEPLOY_CONFIG, parseDeployConfig } from '#infra/cdk/config';
import { ALARM_THRESHOLDS } from '#infra/cdk/constructs/vault-alarms';
import { METRIC, METRIC_NAMESPACE, METRIC_SERVICE } from '#shared/metrics';
import { ACCESS_LOG_FIELDS } from '#infra/cdk/constructs/vault-api';
import { TABLE_READ_ACTIONS, TABLE_WRITE_ACTIONS } from '#infra/cdk/constructs/vault-function';
import { DEFAULT_ROUTE_KEY, routeKeysOf, routeList as routes } from '#shared/http/routes';
import { actionsOf, referencedIds, resourceByPrefix, type SynthResult, statementsOfRole, synthVault } from './support.ts';

/** Logical-id prefixes of the functions, their roles and log groups. */
const FUNCTIONS = {
  agents: 'AgentsFunction',
  profiles: 'ProfilesFunction',
  runs: 'RunsFunction',
  keys: 'KeysFunction',
  meta: 'MetaFunction',
  webhooks: 'WebhooksFunction',
  worker: 'AsyncRunsWorker',
  failure: 'AsyncRunsFailureHandler',
  webhookWorker: 'WebhookDeliveriesWorker',
  webhookFailure: 'WebhookDeliveriesFailureHandler',
} as const;
const VAULT_FUNCTIONS = ['agents', 'profiles', 'runs', 'keys', 'webhooks', 'worker', 'failure', 'webhookWorker', 'webhookFailure'] as const;

let vault: SynthResult;
beforeAll(() => {
  vault = synthVault();
});

const fn = (name: keyof typeof FUNCTIONS) => resourceByPrefix(vault.template, 'AWS::Lambda::Function', FUNCTIONS[name]);
const envOf = (name: keyof typeof FUNCTIONS) => (fn(name).Properties.Environment as { Variables: Record<string, unknown> }).Variables;
const statementsOf = (name: keyof typeof FUNCTIONS) => statementsOfRole(vault.template, `${FUNCTIONS[name]}Role`);
const tableId = () => resourceByPrefix(vault.template, 'AWS::DynamoDB::Table', 'DataTable').id;
const secretId = () => resourceByPrefix(vault.template, 'AWS::SecretsManager::Secret', 'DataServerKey').id;
const payloadKeyId = () => resourceByPrefix(vault.template, 'AWS::KMS::Key', 'AsyncRunsRunPayloadKey').id;

describe('VaultStack functions', () => {
  it('creates one function per route group plus the run and webhook workers and their failure handlers', () => {
    vault.template.resourceCountIs('AWS::Lambda::Function', 10);
    for (const name of Object.keys(FUNCTIONS) as (keyof typeof FUNCTIONS)[]) expect(fn(name)).toBeDefined();
  });

  it('runs every function on nodejs22.x, arm64, from an ESM bundle with source maps enabled', () => {
    vault.template.allResourcesProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Environment: { Variables: Match.objectLike({ VAULT_MODE: 'aws', NODE_OPTIONS: '--enable-source-maps' }) },
    });
  });

  it('gives every function an explicit log group with the default retention', () => {
    for (const name of Object.keys(FUNCTIONS) as (keyof typeof FUNCTIONS)[]) {
      const logging = fn(name).Properties.LoggingConfig as { LogGroup: unknown };
      const [logGroupId] = referencedIds(logging.LogGroup);
      expect(logGroupId).toMatch(new RegExp(`^${FUNCTIONS[name]}Logs`));
    }
    vault.template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: DEFAULT_DEPLOY_CONFIG.logRetentionDays });
  });

  it('applies the logRetentionDays context to every log group', () => {
    const { template } = synthVault({ logRetentionDays: '365' });

    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
  });

  it('attaches no managed policy to any role', () => {
    for (const role of Object.values(vault.template.findResources('AWS::IAM::Role'))) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  it('configures the vault functions from the environment shared/config.ts reads', () => {
    for (const name of VAULT_FUNCTIONS) {
      const env = envOf(name);
      expect(referencedIds(env.VAULT_TABLE_NAME)).toEqual([tableId()]);
      expect(referencedIds(env.VAULT_SERVER_KEY_SECRET_ID)).toEqual([secretId()]);
      expect(env).toMatchObject({
        VAULT_RUN_RETENTION_DAYS: String(DEFAULT_DEPLOY_CONFIG.runRetentionDays),
        VAULT_ALLOWED_RUNNER_HOSTS: '',
        VAULT_ALLOW_PRIVATE_RUNNERS: 'false',
        VAULT_SERVER_KEY_EPOCH: '1',
      });
    }
  });

  it('restarts every function holding the server key when serverKeyEpoch changes', () => {
    const { template } = synthVault({ serverKeyEpoch: '2' });

    const withEpoch = Object.values(template.findResources('AWS::Lambda::Function')).filter(
      (f) => f.Properties.Environment.Variables.VAULT_SERVER_KEY_EPOCH === '2',
    );
    expect(withEpoch).toHaveLength(VAULT_FUNCTIONS.length);
  });

  it('tells the runs function where to send async runs, and only the runs function', () => {
    const env = envOf('runs');
    expect(referencedIds(env.VAULT_RUN_WORKER_FUNCTION)).toEqual([fn('worker').id]);
    expect(referencedIds(env.VAULT_RUN_PAYLOAD_KEY_ID)).toEqual([payloadKeyId()]);
    for (const name of ['agents', 'profiles', 'keys', 'meta', 'worker', 'failure'] as const)
      expect(envOf(name).VAULT_RUN_WORKER_FUNCTION).toBeUndefined();
  });

  it('gives the meta function no table name and no secret id', () => {
    // Powertools' service name and metrics namespace are set on every function (shared/log.ts, shared/metrics.ts).
    expect(Object.keys(envOf('meta')).sort()).toEqual([
      'NODE_OPTIONS',
      'POWERTOOLS_METRICS_NAMESPACE',
      'POWERTOOLS_SERVICE_NAME',
      'VAULT_MODE',
    ]);
  });

  it('passes run retention and allowed runner hosts from context', () => {
    const { template } = synthVault({ runRetentionDays: '30', allowedRunnerHosts: 'Runner.Example.com, hooks.example.org' });

    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ VAULT_RUN_RETENTION_DAYS: '30', VAULT_ALLOWED_RUNNER_HOSTS: 'runner.example.com,hooks.example.org' }),
      },
    });
  });
});

describe('VaultStack table', () => {
  it('is on-demand with a pk/sk key of strings and exactly one secondary index: profiles by name (GET /v1/auth-profiles)', () => {
    const table = resourceByPrefix(vault.template, 'AWS::DynamoDB::Table', 'DataTable');
    expect(table.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    });
    expect(table.Properties.AttributeDefinitions).toEqual(
      expect.arrayContaining([
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
        { AttributeName: 'name_pk', AttributeType: 'S' },
        { AttributeName: 'name_sk', AttributeType: 'S' },
      ]),
    );
    // One index: CloudFormation adds at most one per stack update, so an upgrade is one deploy.
    expect(table.Properties.GlobalSecondaryIndexes).toEqual([
      {
        IndexName: 'profiles-by-name',
        KeySchema: [
          { AttributeName: 'name_pk', KeyType: 'HASH' },
          { AttributeName: 'name_sk', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ]);
    expect(table.Properties.LocalSecondaryIndexes).toBeUndefined();
  });

  it('lets the functions Query the name index, and nothing else on it', () => {
    const statements = Object.values(vault.template.findResources('AWS::IAM::Policy')).flatMap(
      (p) =>
        (p as { Properties: { PolicyDocument: { Statement: { Action: unknown; Resource: unknown }[] } } }).Properties.PolicyDocument
          .Statement,
    );
    const onIndex = statements.filter((s) => JSON.stringify(s.Resource).includes('/index/'));
    expect(onIndex.length).toBeGreaterThan(0);
    for (const s of onIndex) {
      expect(s.Action).toBe('dynamodb:Query');
      expect(JSON.stringify(s.Resource)).toContain('/index/profiles-by-name');
    }
  });

  it('has point-in-time recovery, deletion protection and a TTL on expires_at', () => {
    vault.template.hasResourceProperties('AWS::DynamoDB::Table', {
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      DeletionProtectionEnabled: true,
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
    });
  });

  it('is retained when the stack is deleted or the table replaced', () => {
    vault.template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  it('is encrypted with the customer-managed data key, which rotates and is retained', () => {
    const table = resourceByPrefix(vault.template, 'AWS::DynamoDB::Table', 'DataTable');
    const dataKey = resourceByPrefix(vault.template, 'AWS::KMS::Key', 'DataDataKey');

    expect(table.Properties.SSESpecification).toMatchObject({ SSEEnabled: true, SSEType: 'KMS' });
    expect(referencedIds((table.Properties.SSESpecification as { KMSMasterKeyId: unknown }).KMSMasterKeyId)).toEqual([dataKey.id]);
    expect(dataKey).toMatchObject({ DeletionPolicy: 'Retain', Properties: { EnableKeyRotation: true } });
  });
});

describe('VaultStack KMS keys', () => {
  it('rotates every key', () => {
    vault.template.allResourcesProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });
});

describe('VaultStack server key secret', () => {
  it('is generated at deploy time as a key ring, never given a value in the template', () => {
    const secret = resourceByPrefix(vault.template, 'AWS::SecretsManager::Secret', 'DataServerKey');

    expect(secret.Properties.GenerateSecretString).toEqual({
      SecretStringTemplate: '{"current":"k1"}',
      GenerateStringKey: 'k1',
      PasswordLength: 64,
      ExcludePunctuation: true,
    });
    expect(secret.Properties.SecretString).toBeUndefined();
    expect(secret).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(referencedIds(secret.Properties.KmsKeyId)).toEqual([resourceByPrefix(vault.template, 'AWS::KMS::Key', 'DataDataKey').id]);
  });

  it('is readable by the functions that open profiles and runs', () => {
    for (const name of VAULT_FUNCTIONS) {
      const reads = statementsOf(name).filter((s) => actionsOf(s).includes('secretsmanager:GetSecretValue'));
      expect(reads.map((s) => referencedIds(s.Resource))).toEqual([[secretId()]]);
    }
  });

  it('is not readable by the meta function, whose role can only write its logs', () => {
    const statements = statementsOf('meta');

    expect(statements.flatMap(actionsOf).sort()).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
    expect(JSON.stringify(statements)).not.toContain(secretId());
    const dataKey = resourceByPrefix(vault.template, 'AWS::KMS::Key', 'DataDataKey');
    const metaRole = resourceByPrefix(vault.template, 'AWS::IAM::Role', 'MetaFunctionRole');
    expect(JSON.stringify(dataKey.Properties.KeyPolicy)).not.toContain(metaRole.id);
  });
});

describe('VaultStack IAM', () => {
  const allStatements = () =>
    Object.values(vault.template.findResources('AWS::IAM::Policy')).flatMap(
      (p) => (p.Properties.PolicyDocument as { Statement: Parameters<typeof actionsOf>[0][] }).Statement,
    );

  it('grants no wildcard action anywhere', () => {
    const wildcards = allStatements()
      .flatMap(actionsOf)
      .filter((a) => a.includes('*'));

    expect(wildcards).toEqual([]);
  });

  it('lists the table actions one by one and never on a wildcard resource', () => {
    const onTable = allStatements().filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));

    expect(onTable.length).toBeGreaterThan(0);
    for (const s of onTable) {
      expect(referencedIds(s.Resource)).toEqual([tableId()]);
      for (const action of actionsOf(s)) expect([...TABLE_READ_ACTIONS, ...TABLE_WRITE_ACTIONS]).toContain(action);
    }
  });

  it('allows no table scan, transaction or table management', () => {
    const actions = allStatements().flatMap(actionsOf);

    for (const forbidden of [
      'dynamodb:Scan',
      'dynamodb:DeleteTable',
      'dynamodb:UpdateTable',
      'dynamodb:TransactWriteItems',
      'dynamodb:DescribeTable',
    ]) {
      expect(actions).not.toContain(forbidden);
    }
  });

  it('allows the table key only through DynamoDB', () => {
    const dataKey = resourceByPrefix(vault.template, 'AWS::KMS::Key', 'DataDataKey').id;
    const onDataKey = allStatements().filter((s) => referencedIds(s.Resource).includes(dataKey));

    expect(onDataKey.length).toBe(VAULT_FUNCTIONS.length);
    for (const s of onDataKey) expect(JSON.stringify(s.Condition)).toContain('kms:ViaService');
  });

  it('lets only the runs function invoke the run worker, and only the worker function itself', () => {
    const invokers = (Object.keys(FUNCTIONS) as (keyof typeof FUNCTIONS)[]).filter((name) =>
      statementsOf(name).some((s) => actionsOf(s).includes('lambda:InvokeFunction') && referencedIds(s.Resource).includes(fn('worker').id)),
    );
    const invoked = statementsOf('runs')
      .filter((s) => actionsOf(s).includes('lambda:InvokeFunction'))
      .flatMap((s) => [s.Resource].flat());

    expect(invokers).toEqual(['runs']);
    // The run worker and (connection events of a refresh on use) the webhook worker, nothing else.
    expect(invoked).toEqual([{ 'Fn::GetAtt': [fn('worker').id, 'Arn'] }, { 'Fn::GetAtt': [fn('webhookWorker').id, 'Arn'] }]);
  });

  it('lets only the functions that publish events invoke the webhook worker, and nothing else', () => {
    const invokeStatements = (name: keyof typeof FUNCTIONS) =>
      statementsOf(name).filter((s) => actionsOf(s).includes('lambda:InvokeFunction'));
    const publishers = (Object.keys(FUNCTIONS) as (keyof typeof FUNCTIONS)[]).filter((name) =>
      invokeStatements(name).some((s) => referencedIds(s.Resource).includes(fn('webhookWorker').id)),
    );

    // agents: profile.deleted for the profiles a forced delete removes; profiles: profile.deleted
    // and connection events (connect flow, refresh on proxy/test); runs and the run worker:
    // connection events of a refresh on use by a run; webhooks: test events.
    expect(publishers).toEqual(['agents', 'profiles', 'runs', 'webhooks', 'worker']);
    for (const name of publishers) {
      const invoked = invokeStatements(name).flatMap((s) => [s.Resource].flat());
      const others = name === 'runs' ? [{ 'Fn::GetAtt': [fn('worker').id, 'Arn'] }] : [];
      expect(invoked).toEqual([...others, { 'Fn::GetAtt': [fn('webhookWorker').id, 'Arn'] }]);
      expect(referencedIds(envOf(name).VAULT_WEBHOOK_WORKER_FUNCTION)).toEqual([fn('webhookWorker').id]);
    }
  });

  it('lets the runs function only seal and the worker only open run payloads, both under the run encryption context', () => {
    const onPayloadKey = (name: keyof typeof FUNCTIONS) =>
      statementsOf(name).filter((s) => referencedIds(s.Resource).includes(payloadKeyId()));
    const contextRequired = {
      Null: { 'kms:EncryptionContext:session_id': 'false', 'kms:EncryptionContext:agent_id': 'false' },
    };

    expect(onPayloadKey('runs').map((s) => [actionsOf(s), s.Condition])).toEqual([[['kms:GenerateDataKey'], contextRequired]]);
    expect(onPayloadKey('worker').map((s) => [actionsOf(s), s.Condition])).toEqual([[['kms:Decrypt'], contextRequired]]);
    for (const name of ['agents', 'profiles', 'keys', 'meta', 'failure'] as const) expect(onPayloadKey(name)).toEqual([]);
  });
});

describe('VaultStack HTTP API', () => {
  it('is an HTTP API', () => {
    vault.template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    vault.template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
  });

  it('integrates every function with payload format 2.0', () => {
    vault.template.resourceCountIs('AWS::ApiGatewayV2::Integration', 6);
    vault.template.allResourcesProperties('AWS::ApiGatewayV2::Integration', { IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0' });
  });

  it('routes every entry of the route table to its group function, and $default to meta', () => {
    const integrations = vault.template.findResources('AWS::ApiGatewayV2::Integration');
    const functionOfIntegration = (id: string) => referencedIds(integrations[id]?.Properties.IntegrationUri)[0];
    const routeTargets = new Map(
      Object.values(vault.template.findResources('AWS::ApiGatewayV2::Route')).map((r) => {
        const integrationId = referencedIds(r.Properties.Target)[0] ?? '';
        return [r.Properties.RouteKey as string, functionOfIntegration(integrationId)];
      }),
    );

    expect([...routeTargets.keys()].sort()).toEqual([...routes.flatMap(routeKeysOf), DEFAULT_ROUTE_KEY].sort());
    for (const route of routes) for (const key of routeKeysOf(route)) expect(routeTargets.get(key)).toBe(fn(route.group).id);
    // HEAD is answered wherever GET is, by the same function.
    expect(routeTargets.get('HEAD /v1/agents')).toBe(fn('agents').id);
    expect(routeTargets.get(DEFAULT_ROUTE_KEY)).toBe(fn('meta').id);
  });

  it('serves the $default stage with default-route throttling', () => {
    vault.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: {
        ThrottlingRateLimit: DEFAULT_DEPLOY_CONFIG.throttleRateLimit,
        ThrottlingBurstLimit: DEFAULT_DEPLOY_CONFIG.throttleBurstLimit,
      },
    });
  });

  it('takes the throttling limits from context', () => {
    const { template } = synthVault({ throttleRateLimit: '200', throttleBurstLimit: 400 });

    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 200, ThrottlingBurstLimit: 400 },
    });
  });

  it('writes JSON access logs with request id, route, status, latency and source IP to a retained log group', () => {
    const stage = resourceByPrefix(vault.template, 'AWS::ApiGatewayV2::Stage', 'ApiDefaultStage');
    const settings = stage.Properties.AccessLogSettings as { DestinationArn: unknown; Format: string };
    const format = JSON.parse(settings.Format) as Record<string, string>;

    expect(referencedIds(settings.DestinationArn)[0]).toMatch(/^ApiAccessLogs/);
    expect(format).toMatchObject({
      requestId: '$context.requestId',
      routeKey: '$context.routeKey',
      status: '$context.status',
      responseLatency: '$context.responseLatency',
      ip: '$context.identity.sourceIp',
    });
  });

  it('never logs bodies, query strings or credentials-bearing headers', () => {
    const format = JSON.stringify(ACCESS_LOG_FIELDS).toLowerCase();

    for (const forbidden of ['body', '$input', 'querystring', 'authorization', 'api_key', 'x-api-key', '$request.header', 'cookie']) {
      expect(format).not.toContain(forbidden);
    }
  });

  it('has no custom domain unless one is configured', () => {
    vault.template.resourceCountIs('AWS::ApiGatewayV2::DomainName', 0);
    vault.template.hasResourceProperties('AWS::ApiGatewayV2::Api', { DisableExecuteApiEndpoint: false });
  });

  it('serves a configured custom domain over TLS 1.2 and turns off the execute-api endpoint', () => {
    const certificateArn = 'arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-aaaa-bbbb-cccc-1234567890ab';
    const { template } = synthVault({ domainName: 'vault.example.com', certificateArn });

    template.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
      DomainName: 'vault.example.com',
      DomainNameConfigurations: [Match.objectLike({ CertificateArn: certificateArn, SecurityPolicy: 'TLS_1_2' })],
    });
    template.resourceCountIs('AWS::ApiGatewayV2::ApiMapping', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { DisableExecuteApiEndpoint: true });
    template.hasOutput('ApiUrl', { Value: 'https://vault.example.com/' });
    template.hasOutput('CustomDomainTarget', {});
  });
});

describe('VaultStack async runs', () => {
  it('sends failed worker invocations to an encrypted SQS queue, without retrying them', () => {
    const failures = resourceByPrefix(vault.template, 'AWS::SQS::Queue', 'AsyncRunsRunFailures');
    const config = resourceByPrefix(vault.template, 'AWS::Lambda::EventInvokeConfig', 'AsyncRunsWorker');

    expect(config.Properties).toMatchObject({ MaximumRetryAttempts: 0, Qualifier: '$LATEST' });
    expect(referencedIds(config.Properties.FunctionName)).toEqual([fn('worker').id]);
    expect((config.Properties.DestinationConfig as { OnFailure: { Destination: unknown } }).OnFailure.Destination).toEqual({
      'Fn::GetAtt': [failures.id, 'Arn'],
    });
  });

  it('encrypts every queue (runs and webhooks: on-failure and poison) and refuses non-TLS access to them', () => {
    vault.template.resourceCountIs('AWS::SQS::Queue', 4);
    vault.template.allResourcesProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    vault.template.resourceCountIs('AWS::SQS::QueuePolicy', 4);
    vault.template.allResourcesProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
  });

  it('feeds the on-failure queue to the failure handler, with a poison queue behind it', () => {
    const failures = resourceByPrefix(vault.template, 'AWS::SQS::Queue', 'AsyncRunsRunFailures');
    const poison = resourceByPrefix(vault.template, 'AWS::SQS::Queue', 'AsyncRunsRunFailurePoison');
    const mapping = resourceByPrefix(vault.template, 'AWS::Lambda::EventSourceMapping', 'AsyncRunsFailureHandler');

    expect(referencedIds(mapping.Properties.EventSourceArn)).toEqual([failures.id]);
    expect(referencedIds(mapping.Properties.FunctionName)).toEqual([fn('failure').id]);
    expect(mapping.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(failures.Properties.RedrivePolicy).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': [poison.id, 'Arn'] }, maxReceiveCount: 5 });
  });

  it('gives the worker the longest timeout Lambda allows, since runners may take up to 15 minutes', () => {
    expect(fn('worker').Properties.Timeout).toBe(900);
  });
});

describe('VaultStack tracing (the tracing deploy setting)', () => {
  const vaultFunctions = (template: SynthResult['template']) =>
    Object.values(template.findResources('AWS::Lambda::Function')).filter((f) => f.Properties.Environment?.Variables?.VAULT_MODE === 'aws');

  it('is off by default: no X-Ray tracing, no VAULT_TRACING, Powertools service and namespace set', () => {
    for (const f of vaultFunctions(vault.template)) {
      expect(f.Properties.TracingConfig).toBeUndefined();
      expect(f.Properties.Environment.Variables.VAULT_TRACING).toBeUndefined();
      expect(f.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME).toBe(METRIC_SERVICE);
      expect(f.Properties.Environment.Variables.POWERTOOLS_METRICS_NAMESPACE).toBe(METRIC_NAMESPACE);
    }
  });

  it('turns on active tracing and VAULT_TRACING for every function that opens the vault when on', () => {
    const { template } = synthVault({ tracing: 'true' });
    const traced = Object.values(template.findResources('AWS::Lambda::Function')).filter(
      (f) => f.Properties.Environment?.Variables?.VAULT_TRACING === 'true',
    );

    expect(traced.length).toBeGreaterThanOrEqual(5);
    for (const f of traced) expect(f.Properties.TracingConfig).toEqual({ Mode: 'Active' });
  });
});

describe('VaultStack webhook deliveries', () => {
  it('retries failed delivery attempts through Lambda (two async retries), then sends the event to the on-failure queue', () => {
    const failures = resourceByPrefix(vault.template, 'AWS::SQS::Queue', 'WebhookDeliveriesFailures');
    const config = resourceByPrefix(vault.template, 'AWS::Lambda::EventInvokeConfig', 'WebhookDeliveriesWorker');

    expect(config.Properties).toMatchObject({ MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600, Qualifier: '$LATEST' });
    expect(referencedIds(config.Properties.FunctionName)).toEqual([fn('webhookWorker').id]);
    expect((config.Properties.DestinationConfig as { OnFailure: { Destination: unknown } }).OnFailure.Destination).toEqual({
      'Fn::GetAtt': [failures.id, 'Arn'],
    });
  });

  it('counts the same attempts in the delivery log as Lambda makes: the first and two retries, a minute apart and doubling', () => {
    for (const name of VAULT_FUNCTIONS) {
      expect(envOf(name)).toMatchObject({
        VAULT_WEBHOOK_MAX_ATTEMPTS: '3',
        VAULT_WEBHOOK_RETRY_BASE_MS: '60000',
        VAULT_ALLOW_PRIVATE_WEBHOOKS: 'false',
        VAULT_ALLOWED_WEBHOOK_HOSTS: '',
      });
    }
  });

  it('feeds the on-failure queue to the webhook failure handler, with a poison queue behind it', () => {
    const failures = resourceByPrefix(vault.template, 'AWS::SQS::Queue', 'WebhookDeliveriesFailures');
    const poison = resourceByPrefix(vault.template, 'AWS::SQS::Queue', 'WebhookDeliveriesFailurePoison');
    const mapping = resourceByPrefix(vault.template, 'AWS::Lambda::EventSourceMapping', 'WebhookDeliveriesFailureHandler');

    expect(referencedIds(mapping.Properties.EventSourceArn)).toEqual([failures.id]);
    expect(referencedIds(mapping.Properties.FunctionName)).toEqual([fn('webhookFailure').id]);
    expect(mapping.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(failures.Properties.RedrivePolicy).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': [poison.id, 'Arn'] }, maxReceiveCount: 5 });
  });

  it('passes the allowedWebhookHosts context to every vault function', () => {
    const { template } = synthVault({ allowedWebhookHosts: 'hooks.example.com' });
    const worker = resourceByPrefix(template, 'AWS::Lambda::Function', FUNCTIONS.webhookWorker);

    expect((worker.Properties.Environment as { Variables: Record<string, unknown> }).Variables.VAULT_ALLOWED_WEBHOOK_HOSTS).toBe(
      'hooks.example.com',
    );
  });

  it('alarms on the webhook poison queue and on a stuck webhook failure queue', () => {
    const names = Object.values(vault.template.findResources('AWS::CloudWatch::Alarm')).map((a) => String(a.Properties.AlarmName));
    expect(names.some((n) => n.includes('WebhookFailurePoisonDepth'))).toBe(true);
    expect(names.some((n) => n.includes('WebhookFailureQueueAge'))).toBe(true);
  });
});

describe('VaultStack alarms', () => {
  const alarms = () => Object.values(vault.template.findResources('AWS::CloudWatch::Alarm'));
  const metricNames = (alarm: { [key: string]: unknown }) => JSON.stringify(alarm.Properties);

  it('alarms on the API 5xx rate', () => {
    vault.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([Match.objectLike({ Expression: Match.stringLikeRegexp('100 \\* errors / requests') })]),
    });
    expect(alarms().some((a) => metricNames(a).includes('"MetricName":"5xx"'))).toBe(true);
  });

  it('alarms on errors and throttles of every function', () => {
    for (const name of Object.keys(FUNCTIONS) as (keyof typeof FUNCTIONS)[]) {
      for (const metric of ['Errors', 'Throttles']) {
        const found = alarms().filter(
          (a) => a.Properties.MetricName === metric && referencedIds(a.Properties.Dimensions).includes(fn(name).id),
        );
        expect(found, `${metric} alarm of ${name}`).toHaveLength(1);
      }
    }
  });

  it('alarms on DynamoDB throttling and on the dead-letter queues', () => {
    const all = alarms().map(metricNames).join('\n');

    expect(all).toContain('ReadThrottleEvents');
    expect(all).toContain('WriteThrottleEvents');
    expect(all).toContain('ApproximateNumberOfMessagesVisible');
    expect(all).toContain('ApproximateAgeOfOldestMessage');
  });

  it('alarms on the metrics the functions write as EMF (shared/metrics.ts): audit write failures, wrong tokens, OAuth2 token failures', () => {
    const emf = (metricName: string, dimensions: Record<string, string>) =>
      alarms().filter(
        (a) =>
          a.Properties.Namespace === METRIC_NAMESPACE &&
          a.Properties.MetricName === metricName &&
          JSON.stringify(
            Object.fromEntries((a.Properties.Dimensions as { Name: string; Value: string }[]).map((d) => [d.Name, d.Value])),
          ) === JSON.stringify(Object.fromEntries(Object.entries({ service: METRIC_SERVICE, ...dimensions }).sort())),
      );

    expect(emf(METRIC.auditWriteFailure, {})).toHaveLength(1);
    expect(emf(METRIC.credentialRefusal, { code: 'profile_not_found' })).toHaveLength(1);
    expect(emf(METRIC.oauth2FetchFailure, {})).toHaveLength(1);
    expect(emf(METRIC.auditWriteFailure, {})[0]?.Properties.Threshold).toBe(ALARM_THRESHOLDS.auditWriteFailures);
  });

  it('notifies an encrypted, TLS-only topic of the stack on alarm and on recovery', () => {
    const topic = resourceByPrefix(vault.template, 'AWS::SNS::Topic', 'AlarmsTopic');

    expect(referencedIds(topic.Properties.KmsMasterKeyId)[0]).toMatch(/^AlarmsTopicKey/);
    for (const alarm of alarms()) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topic.id }]);
      expect(alarm.Properties.OKActions).toEqual([{ Ref: topic.id }]);
    }
    vault.template.hasOutput('AlarmTopicArn', { Value: { Ref: topic.id } });
  });

  it('notifies the topic given by context instead of creating one', () => {
    const arn = 'arn:aws:sns:eu-west-1:123456789012:ops-alerts';
    const { template } = synthVault({ alarmTopicArn: arn });

    template.resourceCountIs('AWS::SNS::Topic', 0);
    template.allResourcesProperties('AWS::CloudWatch::Alarm', { AlarmActions: [arn], OKActions: [arn] });
  });
});

describe('VaultStack outputs', () => {
  it('outputs the API URL and the table name', () => {
    vault.template.hasOutput('ApiUrl', {});
    vault.template.hasOutput('TableName', { Value: { Ref: tableId() } });
  });

  it('names the stack after the stage', () => {
    expect(vault.stack.stackName).toBe('AgentVault-prod');
    expect(synthVault({ stage: 'staging' }).stack.stackName).toBe('AgentVault-staging');
  });
});

describe('docs/deploy.md against the template', () => {
  const deployDoc = readFileSync('docs/deploy.md', 'utf8');

  it('states the alarm count and the alarm metrics the template really has (its cost line)', () => {
    const alarms = Object.values(vault.template.findResources('AWS::CloudWatch::Alarm')) as {
      Properties: { Metrics?: { MetricStat?: unknown }[] };
    }[];
    const metrics = alarms.reduce((n, a) => n + (a.Properties.Metrics ? a.Properties.Metrics.filter((m) => m.MetricStat).length : 1), 0);

    expect(deployDoc).toContain(`${alarms.length} alarms, ${metrics} alarm metrics × $0.10`);
    expect(deployDoc).toContain(`$${(metrics * 0.1).toFixed(2)}`);
  });

  it('gives an example cdk.json whose context is valid and sets allowedRunnerHosts', () => {
    const example = /```json\n([\s\S]*?)```/.exec(deployDoc)?.[1];
    expect(example).toBeDefined();
    const cdkJson = JSON.parse(example as string) as { app: string; context: Record<string, unknown> };
    const repository = JSON.parse(readFileSync('cdk.json', 'utf8')) as { app: string };

    expect(cdkJson.app).toBe(repository.app);
    expect(Object.keys(cdkJson.context).filter((k) => !(CONTEXT_KEYS as readonly string[]).includes(k))).toEqual([]);
    expect(parseDeployConfig(cdkJson.context as Parameters<typeof parseDeployConfig>[0]).allowedRunnerHosts.length).toBeGreaterThan(0);
  });

  it('sets $API_URL and $API_KEY in the check step before using them, and has upgrade guidance', () => {
    const check = deployDoc.slice(deployDoc.indexOf('Check that the deployment works'));
    const firstUse = check.indexOf('"$API_URL/healthz"');

    expect(check.slice(0, firstUse)).toMatch(/^API_URL=/m);
    expect(check.slice(0, firstUse)).toMatch(/^API_KEY=/m);
    expect(deployDoc).toMatch(/^### Upgrading$/m);
    expect(deployDoc).toContain('npm run admin -- index-profiles');
  });
});
