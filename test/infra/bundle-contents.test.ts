import { readdirSync } from 'node:fs';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

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

  it('bundles no KMS or Lambda client into agents', async () => {
    const pkgs = await bundledPackages('functions/agents.ts');
    expect(pkgs.has('@aws-sdk/client-dynamodb')).toBe(true);
    expect(pkgs.has('@aws-sdk/client-kms')).toBe(false);
    expect(pkgs.has('@aws-sdk/client-lambda')).toBe(false);
  });

  it.each(['functions/profiles.ts', 'functions/webhooks.ts'])('bundles the Lambda client (webhook deliveries go to the worker) but no KMS client into %s', async (entry) => {
    const pkgs = await bundledPackages(entry);
    expect(pkgs.has('@aws-sdk/client-dynamodb')).toBe(true);
    expect(pkgs.has('@aws-sdk/client-kms')).toBe(false);
    expect(pkgs.has('@aws-sdk/client-lambda')).toBe(true);
  });

  it('bundles the KMS and Lambda clients into runs, which dispatches async runs', async () => {
    const pkgs = await bundledPackages('functions/runs.ts');
    expect(pkgs.has('@aws-sdk/client-kms')).toBe(true);
    expect(pkgs.has('@aws-sdk/client-lambda')).toBe(true);
  });
});

const FUNCTIONS = readdirSync('functions')
  .filter((f) => f.endsWith('.ts'))
  .map((f) => `functions/${f}`);

describe('function bundles carry no local-only wiring', () => {
  it.each(FUNCTIONS)('bundles nothing from infra/local into %s (key-ring file, in-process queue, table creation)', async (entry) => {
    const inputs = await bundledInputs(entry);
    expect(inputs.some((i) => i.startsWith('functions/'))).toBe(true);
    expect(inputs.filter((i) => /(^|\/)infra\/local\//.test(i))).toEqual([]);
    expect(inputs.filter((i) => /dynalite|key-ring-file|in-process|\/table\.ts$/.test(i))).toEqual([]);
  });
});
