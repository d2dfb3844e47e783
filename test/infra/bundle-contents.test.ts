import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { bundleFiles, functionBuildOptions } from '#infra/cdk/bundling';
import { REPO_ROOT, handlerNames } from '#infra/cdk/paths';

/** The source files (metafile inputs) an esbuild bundle of a handler pulls in. */
async function bundledInputs(entry: string): Promise<string[]> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return Object.keys(result.metafile.inputs);
}

/** The package directories an esbuild bundle of a handler pulls in. */
async function bundledPackages(entry: string): Promise<Set<string>> {
  const packages = new Set<string>();
  for (const input of await bundledInputs(entry)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
    if (m?.[1]) packages.add(m[1]);
  }
  return packages;
}

describe('function bundles carry only the clients they use', () => {
  it('bundles no DynamoDB, KMS, Lambda or Secrets Manager client into meta', async () => {
    const pkgs = await bundledPackages('functions/meta.ts');
    for (const p of ['@aws-sdk/client-dynamodb', '@aws-sdk/client-kms', '@aws-sdk/client-lambda', '@aws-sdk/client-secrets-manager']) {
      expect(pkgs.has(p), p).toBe(false);
    }
  });

  it.each(['functions/agents.ts', 'functions/profiles.ts', 'functions/webhooks.ts'])(
    'bundles the Lambda client (webhook deliveries go to the worker) but no KMS client into %s',
    async (entry) => {
      const pkgs = await bundledPackages(entry);
      expect(pkgs.has('@aws-sdk/client-dynamodb')).toBe(true);
      expect(pkgs.has('@aws-sdk/client-kms')).toBe(false);
      expect(pkgs.has('@aws-sdk/client-lambda')).toBe(true);
    },
  );

  it('bundles the KMS and Lambda clients into runs, which dispatches async runs', async () => {
    const pkgs = await bundledPackages('functions/runs.ts');
    expect(pkgs.has('@aws-sdk/client-kms')).toBe(true);
    expect(pkgs.has('@aws-sdk/client-lambda')).toBe(true);
  });
});

const FUNCTIONS = handlerNames().map((name) => `functions/${name}.ts`);

describe('only the meta function bundles the OpenAPI operations', () => {
  it.each(FUNCTIONS)('bundles the route docs (shared/http/route-docs.ts, route-examples.ts) into %s only if it is meta', async (entry) => {
    const inputs = await bundledInputs(entry);
    const docs = inputs.filter((i) => /shared\/http\/route-(docs|examples)\.ts$/.test(i));
    expect(docs.length > 0, entry).toBe(entry === 'functions/meta.ts');
  });
});

describe('function bundles carry zod/mini, not classic zod (shared/schemas/zod.ts)', () => {
  it.each(FUNCTIONS)('bundles zod/mini and its English locale only, no classic zod and no other locale, into %s', async (entry) => {
    const { metafile } = await build({
      ...functionBuildOptions(resolve(entry), join(tmpdir(), 'vault-bundle-zod-not-written')),
      write: false,
      logLevel: 'silent',
    });
    if (!metafile) throw new Error('no metafile');
    // What the output holds (an input tree-shaken to nothing is listed with 0 bytes).
    const zod = new Set<string>();
    for (const output of Object.values(metafile.outputs)) {
      for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
        const m = /node_modules\/zod\/(.*)$/.exec(input);
        if (m?.[1] && bytesInOutput > 0) zod.add(m[1]);
      }
    }
    expect([...zod].some((f) => f.startsWith('v4/mini/'))).toBe(true);
    expect([...zod].filter((f) => f.startsWith('v4/classic/'))).toEqual([]);
    expect([...zod].filter((f) => f.startsWith('v4/locales/'))).toEqual(['v4/locales/en.js']);
  });
});

describe('function bundles carry no local-only wiring', () => {
  it.each(FUNCTIONS)('bundles nothing from infra/local into %s (key-ring file, in-process queue, table creation)', async (entry) => {
    const inputs = await bundledInputs(entry);
    expect(inputs.some((i) => i.startsWith('functions/'))).toBe(true);
    expect(inputs.filter((i) => /(^|\/)infra\/local\//.test(i))).toEqual([]);
    expect(inputs.filter((i) => /dynalite|key-ring-file|in-process|\/table\.ts$/.test(i))).toEqual([]);
  });
});

/**
 * The packages of a handler's bundle, built with the CDK functions' own options
 * (infra/cdk/bundling.ts, code splitting): those in what a cold start loads, and those in all.
 */
async function splitPackages(entry: string): Promise<{ cold: Set<string>; all: Set<string> }> {
  const outdir = join(tmpdir(), 'vault-bundle-contents-not-written');
  const { metafile } = await build({ ...functionBuildOptions(resolve(entry), outdir), write: false, logLevel: 'silent' });
  if (!metafile) throw new Error('no metafile');
  const cold = new Set(bundleFiles(metafile, outdir).coldLoaded);
  const packages = { cold: new Set<string>(), all: new Set<string>() };
  for (const [path, output] of Object.entries(metafile.outputs)) {
    for (const input of Object.keys(output.inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      if (!m?.[1]) continue;
      packages.all.add(m[1]);
      if (cold.has(resolve(REPO_ROOT, path))) packages.cold.add(m[1]);
    }
  }
  return packages;
}

const ONE_PATH_CLIENTS = ['@aws-sdk/client-kms', '@aws-sdk/client-lambda', '@aws-sdk/client-secrets-manager'];

describe('function bundles load the clients of one path only when it runs (infra/cdk/bundling.ts)', () => {
  it('puts the KMS, Lambda and Secrets Manager clients of runs in chunks a cold start does not load', async () => {
    const { cold, all } = await splitPackages('functions/runs.ts');
    expect(cold.has('@aws-sdk/client-dynamodb')).toBe(true);
    for (const p of ONE_PATH_CLIENTS) {
      expect(all.has(p), p).toBe(true);
      expect(cold.has(p), p).toBe(false);
    }
  });

  it.each([
    'functions/agents.ts',
    'functions/profiles.ts',
    'functions/webhooks.ts',
    'functions/run-worker.ts',
    'functions/webhook-failure.ts',
  ])('loads none of them at cold start in %s', async (entry) => {
    const { cold } = await splitPackages(entry);
    expect(cold.has('@aws-sdk/client-dynamodb')).toBe(true);
    for (const p of ONE_PATH_CLIENTS) expect(cold.has(p), p).toBe(false);
  });
});
