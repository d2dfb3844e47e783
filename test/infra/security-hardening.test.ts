import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  FAILURE_QUEUE_RETENTION,
  MAX_RUN_EVENT_AGE,
  PAYLOAD_DECRYPT_ACTIONS,
  POISON_QUEUE_RETENTION,
  RUN_JOB_TTL,
} from '#infra/cdk/constructs/async-runs';
import { PROTECTED_LEADING_KEYS, TABLE_WRITE_ACTIONS } from '#infra/cdk/constructs/vault-function';
import { ALLOWED_RUNNER_HOSTS_WARNING } from '#infra/cdk/vault-stack';
import { keys } from '#shared/keys';
import { actionsOf, referencedIds, resourceByPrefix, type SynthResult, statementsOfRole, synthVault } from './support.ts';

// Issue 8 on AWS: sealed jobs out of events and queues (6), short queue retention (6), the run
// payload key policy (6), no API-key writes from any function (7), per-tenant rate limits and
// reserved worker concurrency (5), and a loud allowedRunnerHosts warning (2).

let vault: SynthResult;
beforeAll(() => {
  vault = synthVault();
});

const fnOf = (prefix: string) => resourceByPrefix(vault.template, 'AWS::Lambda::Function', prefix);
const envOf = (prefix: string) => (fnOf(prefix).Properties.Environment as { Variables: Record<string, unknown> }).Variables;
const TABLE_FUNCTIONS = ['AgentsFunction', 'ProfilesFunction', 'RunsFunction', 'AsyncRunsWorker', 'AsyncRunsFailureHandler'];
const DAY = 86_400;

describe('async run queues', () => {
  it('keep on-failure records a day and poison records four days, not the 14-day maximum', () => {
    const failures = resourceByPrefix(vault.template, 'AWS::SQS::Queue', 'AsyncRunsRunFailures');
    const poison = resourceByPrefix(vault.template, 'AWS::SQS::Queue', 'AsyncRunsRunFailurePoison');

    expect(failures.Properties.MessageRetentionPeriod).toBe(1 * DAY);
    expect(poison.Properties.MessageRetentionPeriod).toBe(4 * DAY);
    // SQS ages a dead-letter message from its first enqueue: the poison queue must keep it longer.
    expect(POISON_QUEUE_RETENTION.toSeconds()).toBeGreaterThan(FAILURE_QUEUE_RETENTION.toSeconds());
  });
});

describe('sealed run jobs', () => {
  it('tell the runs function a job TTL that outlasts the latest start plus the worker timeout', () => {
    const workerTimeout = fnOf('AsyncRunsWorker').Properties.Timeout as number;

    expect(envOf('RunsFunction').VAULT_RUN_JOB_TTL_SECONDS).toBe(String(RUN_JOB_TTL.toSeconds()));
    expect(RUN_JOB_TTL.toSeconds()).toBeGreaterThan(MAX_RUN_EVENT_AGE.toSeconds() + workerTimeout);
    // Short: hours, not the days the run record itself is kept.
    expect(RUN_JOB_TTL.toSeconds()).toBeLessThanOrEqual(2 * 3600);
  });

  it('expire through the table TTL attribute', () => {
    const table = resourceByPrefix(vault.template, 'AWS::DynamoDB::Table', 'DataTable');

    expect(table.Properties.TimeToLiveSpecification).toEqual({ AttributeName: 'expires_at', Enabled: true });
  });
});

describe('run payload key policy', () => {
  it('denies decrypting run payloads to every principal but the worker role', () => {
    const key = resourceByPrefix(vault.template, 'AWS::KMS::Key', 'AsyncRunsRunPayloadKey');
    const workerRole = resourceByPrefix(vault.template, 'AWS::IAM::Role', 'AsyncRunsWorkerRole');
    const statements = (key.Properties.KeyPolicy as { Statement: Record<string, unknown>[] }).Statement;

    const deny = statements.find((s) => s.Sid === 'OnlyTheRunWorkerDecrypts');

    expect(deny).toMatchObject({ Effect: 'Deny', Principal: { AWS: '*' }, Resource: '*' });
    expect([deny?.Action].flat().sort()).toEqual([...PAYLOAD_DECRYPT_ACTIONS].sort());
    expect(deny?.Condition).toEqual({ ArnNotEquals: { 'aws:PrincipalArn': { 'Fn::GetAtt': [workerRole.id, 'Arn'] } } });
  });

  it('names no other function role in that key policy', () => {
    const key = resourceByPrefix(vault.template, 'AWS::KMS::Key', 'AsyncRunsRunPayloadKey');
    const text = JSON.stringify(key.Properties.KeyPolicy);

    for (const role of ['RunsFunctionRole', 'AgentsFunctionRole', 'ProfilesFunctionRole', 'AsyncRunsFailureHandlerRole']) {
      expect(text).not.toContain(resourceByPrefix(vault.template, 'AWS::IAM::Role', role).id);
    }
  });
});

describe('API-key items', () => {
  it.each(TABLE_FUNCTIONS)('%s may not write any APIKEY# item', (prefix) => {
    const statements = statementsOfRole(vault.template, `${prefix}Role`);
    const deny = statements.filter((s) => s.Effect === 'Deny');

    expect(deny).toHaveLength(1);
    expect(actionsOf(deny[0] as (typeof deny)[number]).sort()).toEqual([...TABLE_WRITE_ACTIONS].sort());
    expect(deny[0]?.Condition).toEqual({ 'ForAnyValue:StringLike': { 'dynamodb:LeadingKeys': ['APIKEY#*'] } });
    expect(referencedIds(deny[0]?.Resource)).toEqual([resourceByPrefix(vault.template, 'AWS::DynamoDB::Table', 'DataTable').id]);
  });

  it('lets only the API-keys function (POST|DELETE /v1/api-keys) write them: no deny on its role', () => {
    const statements = statementsOfRole(vault.template, 'KeysFunctionRole');

    expect(statements.filter((s) => s.Effect === 'Deny')).toEqual([]);
    expect(statements.some((s) => s.Effect === 'Allow' && actionsOf(s).includes('dynamodb:PutItem') && actionsOf(s).includes('dynamodb:DeleteItem'))).toBe(true);
  });

  it('protects exactly the partition keys API keys are stored under', () => {
    const pk = keys.apiKey('ab'.repeat(32)).pk;

    expect(PROTECTED_LEADING_KEYS.map((p) => new RegExp(`^${p.replace('*', '.*')}$`).test(pk))).toEqual([true]);
  });
});

describe('tenant rate limit and worker concurrency', () => {
  it('turns the per-tenant rate limit on by default in every function that authenticates', () => {
    for (const prefix of ['AgentsFunction', 'ProfilesFunction', 'RunsFunction', 'KeysFunction']) {
      expect(envOf(prefix).VAULT_TENANT_RATE_LIMIT).toBe('25');
    }
  });

  it('passes the tenantRateLimit context, 0 turning it off', () => {
    const { template } = synthVault({ tenantRateLimit: '0' });

    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ VAULT_TENANT_RATE_LIMIT: '0' }) },
    });
  });

  it('reserves 20 concurrent executions for the worker by default', () => {
    expect(fnOf('AsyncRunsWorker').Properties.ReservedConcurrentExecutions).toBe(20);
  });

  it('reserves what workerReservedConcurrency says, and nothing with 0', () => {
    const reserved = (context: Record<string, unknown>) =>
      resourceByPrefix(synthVault(context).template, 'AWS::Lambda::Function', 'AsyncRunsWorker').Properties.ReservedConcurrentExecutions;

    expect(reserved({ workerReservedConcurrency: '50' })).toBe(50);
    expect(reserved({ workerReservedConcurrency: '0' })).toBeUndefined();
  });

  it('reserves nothing for the API functions (they share the account pool)', () => {
    for (const prefix of ['AgentsFunction', 'ProfilesFunction', 'RunsFunction', 'MetaFunction']) {
      expect(fnOf(prefix).Properties.ReservedConcurrentExecutions).toBeUndefined();
    }
  });
});

describe('allowedRunnerHosts', () => {
  it('warns at synth and deploy when it is empty', () => {
    Annotations.fromStack(vault.stack).hasWarning('*', Match.stringLikeRegexp('allowedRunnerHosts is empty'));
    expect(ALLOWED_RUNNER_HOSTS_WARNING).toMatch(/ANY public host/);
  });

  it('does not warn when it is set', () => {
    const { stack } = synthVault({ allowedRunnerHosts: 'runner.example.com' });

    Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('allowedRunnerHosts'));
  });
});
