/**
 * Observability (docs/architecture.md, "Observability"): the Powertools-based logger keeps the
 * vault's masking as its formatter and, inside Lambda, carries the function's context and the
 * request id as correlation id; the EMF metrics count uses, refusals by code and audit write
 * failures, and are written once per invocation. DynamoDB is the aws-sdk-client-mock stub of
 * test/unit/handlers/mocked-deps.ts.
 */
import { BatchWriteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handler as profilesHandler } from '#functions/profiles';
import { handler as runsHandler } from '#functions/runs';
import { sealWithServerKey } from '#shared/crypto/server-seal';
import { newToken, parseToken } from '#shared/crypto/token';
import { keys } from '#shared/keys';
import { createLogger, VaultLogger } from '#shared/log';
import { emfMetrics, METRIC, METRIC_NAMESPACE, setMetricsSink } from '#shared/metrics';
import { startTestRunner } from '#test/support/runner';
import { AGENT_ID, agentItem, apiEvent, dynamoErrors, invoke, lastPutItem, profileKey, stageDefaults, useMockedVault } from './handlers/mocked-deps.ts';

const lambdaContext = {
  awsRequestId: 'lambda-req-1',
  functionName: 'agent-vault-runs',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:agent-vault-runs',
  memoryLimitInMB: '512',
  getRemainingTimeInMillis: () => 30_000,
} as unknown as Context;

describe('the Powertools logger with the masking formatter', () => {
  it('keeps the vault line shape, masks credentials at any depth and drops secret-named fields', () => {
    const lines: string[] = [];
    const log = createLogger((l) => lines.push(l));
    expect(log).toBeInstanceOf(VaultLogger);

    log.info('saw avt_abcdefghijklmnop', { nested: { auth_data: 'x', note: 'avk_abcdefghijklmnop', list: ['avs_abcdefghijklmnop'] } } as never);
    log.log('warn', 'plain', { client_secret: 'hunter2-hunter2', session_id: 's1', skipped: undefined });

    const [first, second] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.join('\n')).not.toMatch(/abcdefghijklmnop|hunter2/);
    expect(first).toMatchObject({ level: 'info', msg: 'saw avt_[REDACTED]', nested: { auth_data: '[REDACTED]', note: 'avk_[REDACTED]', list: ['avs_[REDACTED]'] } });
    expect(second).toEqual({ level: 'warn', time: expect.any(String), msg: 'plain', client_secret: '[REDACTED]', session_id: 's1' });
  });

  it('adds the Lambda context and the correlation id for one request, then forgets the correlation id', () => {
    const lines: string[] = [];
    const log = createLogger((l) => lines.push(l));

    log.beginRequest(lambdaContext, 'api-req-9');
    log.log('info', 'inside');
    log.endRequest();
    log.log('info', 'after');

    const [inside, after] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(inside).toMatchObject({ msg: 'inside', service: 'agent-vault', function_name: 'agent-vault-runs', function_request_id: 'lambda-req-1', correlation_id: 'api-req-9' });
    expect(typeof inside?.cold_start).toBe('boolean');
    expect(after?.correlation_id).toBeUndefined();
  });
});

describe('EMF metrics through the handlers (inside Lambda)', () => {
  const v = useMockedVault();
  let runner: Awaited<ReturnType<typeof startTestRunner>>;
  let emf: Record<string, unknown>[] = [];

  beforeAll(async () => {
    runner = await startTestRunner(() => ({ body: { output: 'ok' } }));
  });
  afterAll(async () => {
    await runner?.close();
  });
  beforeEach(() => {
    emf = [];
    process.env.AWS_LAMBDA_FUNCTION_NAME = 'agent-vault-runs';
    setMetricsSink(emfMetrics({ functionName: 'agent-vault-runs', write: (line) => emf.push(JSON.parse(line) as Record<string, unknown>) }));
  });
  afterEach(() => {
    delete process.env.AWS_LAMBDA_FUNCTION_NAME;
    setMetricsSink(undefined);
  });

  /** The metric names of the EMF lines written, each with the dimensions of its line. */
  const written = () =>
    emf.flatMap((line) => {
      const aws = line._aws as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
      return aws.CloudWatchMetrics.flatMap((d) =>
        d.Metrics.map((m) => ({ namespace: d.Namespace, name: m.Name, dimensions: Object.fromEntries((d.Dimensions[0] ?? []).map((k) => [k, line[k]])) })),
      );
    });

  async function stagedProfile(): Promise<string> {
    const agent = agentItem(['username', 'password'], {
      runner: { type: 'webhook', url: runner.url },
      signing_secret: sealWithServerKey(v.deps.serverKeys, 'runner-signing-secret', ['acme', AGENT_ID], Buffer.from('avs_unit-signing-secret')),
    });
    v.ddb.on(GetCommand, { Key: keys.agent('acme', AGENT_ID) }).resolves({ Item: agent });
    const res = await invoke(profilesHandler, apiEvent('POST', '/api/create_agent_auth_profile', { apiKey: v.apiKey, body: { name: 'main', agent_id: AGENT_ID, auth_data: { username: 'u', password: 'p' } } }));
    expect(res.statusCode, res.text).toBe(200);
    const item = lastPutItem(v.ddb);
    stageDefaults(v.ddb, v.apiKey);
    v.ddb.on(GetCommand, { Key: keys.agent('acme', AGENT_ID) }).resolves({ Item: agent });
    v.ddb.on(GetCommand, { Key: profileKey('main') }).resolves({ Item: item });
    emf = [];
    return res.json.auth_token as string;
  }

  const run = (token: string) => runsHandler(apiEvent('POST', '/run_agent', { apiKey: v.apiKey, body: { agent_id: AGENT_ID, auth_token: token, run_async: false } }), lambdaContext) as Promise<{ statusCode: number }>;

  it('counts a use by its action, once the invocation ends', async () => {
    const token = await stagedProfile();
    const res = await run(token);
    expect(res.statusCode).toBe(200);

    expect(written()).toContainEqual({ namespace: METRIC_NAMESPACE, name: METRIC.credentialUse, dimensions: { service: 'agent-vault', action: 'run' } });
    expect(written().some((m) => m.name === METRIC.credentialRefusal)).toBe(false);
  });

  it('counts a refused use by its code (a wrong token for an existing profile)', async () => {
    const token = await stagedProfile();
    const wrong = newToken(parseToken(token).slot).token; // the profile's slot, another secret
    const res = await run(wrong);
    expect(res.statusCode).toBe(404);

    expect(written()).toContainEqual({ namespace: METRIC_NAMESPACE, name: METRIC.credentialRefusal, dimensions: { service: 'agent-vault', code: 'profile_not_found' } });
    expect(written().some((m) => m.name === METRIC.credentialUse)).toBe(false);
  });

  it('counts an audit record that could not be written (the use refused: 503)', async () => {
    const token = await stagedProfile();
    v.ddb.on(BatchWriteCommand).rejects(dynamoErrors.throttling());
    const res = await run(token);
    expect(res.statusCode).toBe(503);

    expect(written().map((m) => m.name)).toContain(METRIC.auditWriteFailure);
    const line = v.deps.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'audit record could not be written; request refused');
    expect(line).toMatchObject({ correlation_id: expect.any(String), function_request_id: 'lambda-req-1' });
  });
});
