import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ESM_REQUIRE_SHIM } from '#infra/cdk/constructs/vault-function';
import { handlerEntriesExist } from '#infra/cdk/paths';
import { resourceByPrefix, synthVault } from './support.ts';

const HANDLERS = [
  'agents',
  'profiles',
  'runs',
  'keys',
  'webhooks',
  'meta',
  'run-worker',
  'run-failure',
  'webhook-worker',
  'webhook-failure',
];
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

/** Every JavaScript file of an asset: index.mjs and its chunks (infra/cdk/bundling.ts). */
function jsFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.mjs'))
    .map((f) => join(dir, f))
    .sort();
}

/**
 * The files a cold start loads: index.mjs and the files it imports with `import` statements,
 * transitively — read from the minified output itself (`import{…}from"./x.mjs"`, `import"./x.mjs"`;
 * `import("./x.mjs")` is a chunk loaded on first use and is not followed).
 */
function coldLoaded(dir: string): string[] {
  const seen = new Set<string>();
  const pending = [join(dir, 'index.mjs')];
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const code = readFileSync(file, 'utf8');
    for (const m of code.matchAll(/\bimport\s*(?:[{*\w$][^"'()]*?from\s*)?["'](\.{1,2}\/[^"']+)["']/g)) {
      pending.push(resolve(dirname(file), m[1] as string));
    }
  }
  return [...seen].sort();
}

/** Marks of each SDK client in the minified output: its wire protocol's names. */
const CLIENT_MARKS = {
  dynamodb: 'DynamoDB_20120810',
  kms: 'TrentService',
  lambda: '/2015-03-31/functions/',
  secretsManager: 'secretsmanager',
} as const;

const holds = (files: readonly string[], mark: string) => files.some((f) => readFileSync(f, 'utf8').includes(mark));

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

  it('builds minified ESM files (index.mjs and its chunks) with the createRequire shim and a source map each', () => {
    for (const prefix of FUNCTIONS) {
      const dir = bundleOf(prefix);
      const files = jsFiles(dir);

      expect(files, prefix).toContain(join(dir, 'index.mjs'));
      for (const file of files) {
        const code = readFileSync(file, 'utf8');
        const name = relative(dir, file);
        expect(code.startsWith(ESM_REQUIRE_SHIM), `${prefix} ${name}`).toBe(true);
        expect(existsSync(`${file}.map`), `${prefix} ${name}`).toBe(true);
        expect(code.trimEnd().endsWith(`//# sourceMappingURL=${basename(file)}.map`), `${prefix} ${name}`).toBe(true);
        // Minified: a few long lines, not one line per statement.
        expect(code.split('\n').length, `${prefix} ${name}`).toBeLessThan(200);
      }
    }
  });

  it('bundles the AWS SDK instead of importing the runtime copy', () => {
    // Optional signers the SDK requires inside try/catch (SigV4a, CRT); no vault call needs them.
    const optional = new Set(['@aws-sdk/signature-v4-crt', '@aws-sdk/signature-v4a']);
    for (const prefix of FUNCTIONS) {
      const files = jsFiles(bundleOf(prefix));
      const code = files.map((f) => readFileSync(f, 'utf8')).join('\n');
      const external = [...code.matchAll(/(?:from\s*|import\(\s*|require\(\s*)["'](@aws-sdk\/[^"']+)["']/g)].map((m) => m[1] ?? '');

      expect(
        external.filter((name) => !optional.has(name)),
        prefix,
      ).toEqual([]);
      expect(code.length, prefix).toBeGreaterThan(100_000); // the SDK clients are inside
    }
  });

  it("leaves Powertools' Tracer out while the tracing deploy setting is off (shared/tracing.ts imports it only when on)", () => {
    for (const prefix of FUNCTIONS) {
      // The X-Ray SDK under the Tracer reads this variable; none of it is bundled.
      expect(holds(jsFiles(bundleOf(prefix)), 'AWS_XRAY_CONTEXT_MISSING'), prefix).toBe(false);
    }
  });

  it('keeps every bundle well under Lambda limits', () => {
    for (const prefix of FUNCTIONS) {
      const bytes = jsFiles(bundleOf(prefix)).reduce((n, f) => n + statSync(f).size, 0);
      expect(bytes, prefix).toBeLessThan(2 * 1024 * 1024);
    }
  });

  it('loads the KMS, Lambda and Secrets Manager clients only on the path that uses them, not at cold start', () => {
    // The runs function seals async runs (KMS) and invokes the worker (Lambda); every vault
    // function reads the server key (Secrets Manager) on its first request (shared/context.ts).
    const runs = bundleOf('RunsFunction');
    const all = jsFiles(runs);
    const cold = coldLoaded(runs);

    expect(cold.length).toBeLessThan(all.length);
    expect(holds(cold, CLIENT_MARKS.dynamodb)).toBe(true);
    for (const mark of [CLIENT_MARKS.kms, CLIENT_MARKS.lambda, CLIENT_MARKS.secretsManager]) {
      expect(holds(all, mark), mark).toBe(true);
      expect(holds(cold, mark), mark).toBe(false);
    }
    for (const prefix of FUNCTIONS) {
      const coldFiles = coldLoaded(bundleOf(prefix));
      for (const mark of [CLIENT_MARKS.kms, CLIENT_MARKS.lambda, CLIENT_MARKS.secretsManager]) {
        expect(holds(coldFiles, mark), `${prefix} ${mark}`).toBe(false);
      }
    }
  });

  it('loads every chunk of every bundle from the asset as deployed (its imports resolve inside the asset)', async () => {
    for (const prefix of FUNCTIONS) {
      for (const file of jsFiles(bundleOf(prefix))) {
        await expect(import(pathToFileURL(file).href), `${prefix} ${relative(bundleOf(prefix), file)}`).resolves.toBeDefined();
      }
    }
  }, 180_000); // ten bundles of ~25 files each, parsed one after the other

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
