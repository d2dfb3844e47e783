import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DEPLOY_CONFIG, DeployConfigError, parseDeployConfig, readDeployConfig } from '#infra/cdk/config';

const CERT = 'arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-aaaa-bbbb-cccc-1234567890ab';

describe('parseDeployConfig', () => {
  it('applies the documented defaults to an empty context', () => {
    expect(parseDeployConfig({})).toEqual({
      stage: 'prod',
      logRetentionDays: 90,
      throttleRateLimit: 50,
      throttleBurstLimit: 100,
      runRetentionDays: 7,
      allowedRunnerHosts: [],
      allowedWebhookHosts: [],
      allowedReturnHosts: [],
      tenantRateLimit: 25,
      workerReservedConcurrency: 20,
      serverKeyEpoch: 1,
      tracing: false,
    });
    expect(parseDeployConfig({})).toEqual({ ...DEFAULT_DEPLOY_CONFIG, allowedRunnerHosts: [], allowedWebhookHosts: [], allowedReturnHosts: [] });
  });

  it('reads tracing as a boolean (command line or cdk.json) and refuses anything else', () => {
    expect(parseDeployConfig({ tracing: 'true' }).tracing).toBe(true);
    expect(parseDeployConfig({ tracing: true }).tracing).toBe(true);
    expect(parseDeployConfig({ tracing: 'false' }).tracing).toBe(false);
    expect(() => parseDeployConfig({ tracing: 'yes' })).toThrow(/context tracing must be true or false/);
  });

  it('reads command-line strings and cdk.json numbers alike', () => {
    const fromCli = parseDeployConfig({
      stage: 'staging',
      logRetentionDays: '30',
      throttleRateLimit: '10',
      throttleBurstLimit: '20',
      runRetentionDays: '1',
    });
    const fromJson = parseDeployConfig({
      stage: 'staging',
      logRetentionDays: 30,
      throttleRateLimit: 10,
      throttleBurstLimit: 20,
      runRetentionDays: 1,
    });

    expect(fromCli).toEqual(fromJson);
    expect(fromCli).toMatchObject({
      stage: 'staging',
      logRetentionDays: 30,
      throttleRateLimit: 10,
      throttleBurstLimit: 20,
      runRetentionDays: 1,
    });
  });

  it('reads allowed runner hosts as a comma list or an array, lower-cased', () => {
    expect(parseDeployConfig({ allowedRunnerHosts: ' Runner.Example.com ,hooks.example.org,' }).allowedRunnerHosts).toEqual([
      'runner.example.com',
      'hooks.example.org',
    ]);
    expect(parseDeployConfig({ allowedRunnerHosts: ['a.example.com'] }).allowedRunnerHosts).toEqual(['a.example.com']);
  });

  it('reads the tenant rate limit and worker reserved concurrency, where 0 turns each off', () => {
    expect(parseDeployConfig({ tenantRateLimit: '0', workerReservedConcurrency: '0' })).toMatchObject({
      tenantRateLimit: 0,
      workerReservedConcurrency: 0,
    });
    expect(parseDeployConfig({ tenantRateLimit: 100, workerReservedConcurrency: 5 })).toMatchObject({
      tenantRateLimit: 100,
      workerReservedConcurrency: 5,
    });
  });

  it('keeps the optional settings when given', () => {
    const config = parseDeployConfig({
      alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:ops',
      domainName: 'Vault.Example.com',
      certificateArn: CERT,
    });

    expect(config).toMatchObject({
      alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:ops',
      domainName: 'vault.example.com',
      certificateArn: CERT,
    });
  });

  it.each([
    [{ stage: 'prod_eu' }, /stage/],
    [{ stage: '1prod' }, /stage/],
    [{ logRetentionDays: '45' }, /logRetentionDays must be one of/],
    [{ logRetentionDays: 'ninety' }, /logRetentionDays must be an integer/],
    [{ throttleRateLimit: '0' }, /throttleRateLimit/],
    [{ throttleBurstLimit: '1.5' }, /throttleBurstLimit/],
    [{ runRetentionDays: '-1' }, /runRetentionDays/],
    [{ allowedRunnerHosts: 'https://runner.example.com' }, /not a host name/],
    [{ serverKeyEpoch: '0' }, /serverKeyEpoch/],
    [{ tenantRateLimit: '-5' }, /tenantRateLimit/],
    [{ workerReservedConcurrency: '1001' }, /workerReservedConcurrency/],
    [{ allowedRunnerHosts: 42 }, /allowedRunnerHosts/],
    [{ alarmTopicArn: 'ops-alerts' }, /alarmTopicArn/],
    [{ domainName: 'vault.example.com' }, /go together/],
    [{ certificateArn: CERT }, /go together/],
    [{ domainName: 'https://vault.example.com', certificateArn: CERT }, /fully qualified host name/],
    [{ domainName: 'vault.example.com', certificateArn: 'arn:aws:iam::123456789012:server-certificate/x' }, /ACM certificate ARN/],
  ])('rejects %j naming the key at fault', (ctx, message) => {
    expect(() => parseDeployConfig(ctx)).toThrow(DeployConfigError);
    expect(() => parseDeployConfig(ctx)).toThrow(message);
  });
});

describe('readDeployConfig', () => {
  it('reads the settings from the app context', () => {
    const app = new App({ context: { stage: 'dev', throttleRateLimit: '5' } });

    expect(readDeployConfig(app.node)).toMatchObject({ stage: 'dev', throttleRateLimit: 5, throttleBurstLimit: 100 });
  });
});
