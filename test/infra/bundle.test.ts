import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ESM_REQUIRE_SHIM } from '#infra/cdk/constructs/vault-function';
import { handlerEntriesExist } from '#infra/cdk/paths';
import { resourceByPrefix, synthVault } from './support.ts';

const HANDLERS = ['agents', 'profiles', 'runs', 'keys', 'webhooks', 'meta', 'run-worker', 'run-failure', 'webhook-worker', 'webhook-failure'];
const FUNCTIONS = [
  'AgentsFunction',
  'ProfilesFunction',
  'RunsFunction',
  'KeysFunction',
  'WebhooksFunction',
  'MetaFunction',
  'AsyncRunsWorker',
  'AsyncRunsFailureHandler',
  'WebhookDeliveriesWorker',
  'WebhookDeliveriesFailureHandler',
];

// The one test that runs esbuild for real (~8 s for ten bundles on an idle machine). It needs every handler file.
describe.skipIf(!handlerEntriesExist(HANDLERS))('VaultFunction bundles', () => {
  let outdir: string;
  let bundleOf: (functionPrefix: string) => string;

  beforeAll(() => {
    outdir = mkdtempSync(join(tmpdir(), 'vault-cdk-'));
    const { template } = synthVault({}, { bundle: true, outdir });
    bundleOf = (prefix) => {
      const code = resourceByPrefix(template, 'AWS::Lambda::Function', prefix).Properties.Code as { S3Key: string };
      return join(outdir, `asset.${code.S3Key.replace(/\.zip$/, '')}`);
    };
  }, 240_000); // ten esbuild bundles; a loaded 2-core machine needs more than a minute
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it('builds one minified ESM file with the createRequire shim and a source map per function', () => {
    for (const prefix of FUNCTIONS) {
      const dir = bundleOf(prefix);
      const code = readFileSync(join(dir, 'index.mjs'), 'utf8');

      expect(code.startsWith(ESM_REQUIRE_SHIM), prefix).toBe(true);
      expect(existsSync(join(dir, 'index.mjs.map')), prefix).toBe(true);
      expect(code).toMatch(/\/\/# sourceMappingURL=index\.mjs\.map\s*$/);
      // Minified: a few long lines, not one line per statement.
      expect(code.split('\n').length, prefix).toBeLessThan(200);
    }
  });

  it('bundles the AWS SDK instead of importing the runtime copy', () => {
    // Optional signers the SDK requires inside try/catch (SigV4a, CRT); no vault call needs them.
    const optional = new Set(['@aws-sdk/signature-v4-crt', '@aws-sdk/signature-v4a']);
    for (const prefix of FUNCTIONS) {
      const code = readFileSync(join(bundleOf(prefix), 'index.mjs'), 'utf8');
      const external = [...code.matchAll(/(?:from\s*|import\(\s*|require\(\s*)["'](@aws-sdk\/[^"']+)["']/g)].map((m) => m[1] ?? '');

      expect(
        external.filter((name) => !optional.has(name)),
        prefix,
      ).toEqual([]);
      expect(code.length, prefix).toBeGreaterThan(100_000); // the SDK clients are inside
    }
  });

  it('leaves Powertools\' Tracer out while the tracing deploy setting is off (shared/tracing.ts imports it only when on)', () => {
    for (const prefix of FUNCTIONS) {
      const code = readFileSync(join(bundleOf(prefix), 'index.mjs'), 'utf8');

      // The X-Ray SDK under the Tracer reads this variable; none of it is bundled.
      expect(code, prefix).not.toContain('AWS_XRAY_CONTEXT_MISSING');
    }
  });

  it('keeps every bundle well under Lambda limits', () => {
    for (const prefix of FUNCTIONS) {
      expect(statSync(join(bundleOf(prefix), 'index.mjs')).size, prefix).toBeLessThan(2 * 1024 * 1024);
    }
  });

  it('loads as an ES module and answers the health check', async () => {
    const meta = (await import(pathToFileURL(join(bundleOf('MetaFunction'), 'index.mjs')).href)) as {
      handler: (event: unknown, context: unknown) => Promise<{ statusCode: number; body: string }>;
    };

    const res = await meta.handler(
      {
        version: '2.0',
        routeKey: 'GET /healthz',
        rawPath: '/healthz',
        rawQueryString: '',
        headers: {},
        isBase64Encoded: false,
        requestContext: { http: { method: 'GET', path: '/healthz' }, requestId: 'req-1', routeKey: 'GET /healthz', stage: '$default' },
      },
      { awsRequestId: 'req-1', getRemainingTimeInMillis: () => 5_000 },
    );

    expect(res.statusCode).toBe(200);
  });

  it('loads the worker bundle without touching AWS', async () => {
    const worker = (await import(pathToFileURL(join(bundleOf('AsyncRunsWorker'), 'index.mjs')).href)) as { handler: unknown };

    expect(typeof worker.handler).toBe('function');
  });
});
