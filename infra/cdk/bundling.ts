import { type BuildOptions, type BuildResult, build, buildSync, type Metafile } from 'esbuild';
import { resolve } from 'node:path';
import { REPO_ROOT } from './paths.ts';

/**
 * How every Lambda function is bundled: one esbuild configuration, used by the CDK functions
 * (infra/cdk/constructs/vault-function.ts) and by the cold-start bench (test/bench/cold-start.ts),
 * so what the bench measures is what is deployed (docs/architecture.md, "How it runs").
 *
 * Node 22, ESM, minified, the AWS SDK bundled (pinned by our lock file, tree-shaken, and faster to
 * load than the runtime's copy), external source maps without the sources, and code splitting:
 * the handler is `index.mjs`, and whatever the code imports with `import()` — the SDK clients
 * used on one path only (shared/aws/kms-client.ts, lambda-client.ts), the Secrets Manager read
 * of the server key (shared/aws/server-key-secret.ts), the SDK's own optional credential
 * providers — lands in `chunks/*.mjs`, loaded when that path first runs, not at cold start.
 */

/**
 * ESM bundles have no `require`; a few CommonJS dependencies still call it (for Node built-ins).
 * The alias avoids a clash with a bundled `createRequire` binding. Every output file (entry and
 * chunks) starts with it.
 */
export const ESM_REQUIRE_SHIM =
  "import { createRequire as __vaultCreateRequire } from 'node:module'; const require = __vaultCreateRequire(import.meta.url);";

/** The handler file of a bundle: Lambda's `index.handler`. */
export const ENTRY_FILE = 'index.mjs';

/** The deploy settings that change a bundle. */
export interface FunctionBundleSettings {
  /**
   * The `tracing` deploy setting (VAULT_TRACING=true): Powertools' Tracer (122 KiB, bench section 4b)
   * is bundled only then; shared/tracing.ts imports it only then.
   */
  readonly tracing?: boolean;
}

/** The esbuild options that bundle the handler file `entry` into `outdir`. */
export function functionBuildOptions(entry: string, outdir: string, settings: FunctionBundleSettings = {}): BuildOptions {
  return {
    entryPoints: [{ in: entry, out: 'index' }],
    // Metafile paths (and source-map paths) are relative to the repository, whoever runs the build.
    absWorkingDir: REPO_ROOT,
    outdir,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    splitting: true,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    mainFields: ['module', 'main'],
    minify: true,
    sourcemap: true,
    // Stack traces map to file:line without shipping the sources a second time.
    sourcesContent: false,
    banner: { js: ESM_REQUIRE_SHIM },
    external: settings.tracing ? [] : ['@aws-lambda-powertools/tracer'],
    metafile: true,
    logLevel: 'warning',
  };
}

/** Bundles a handler synchronously (CDK asset bundling is synchronous): its metafile. */
export function bundleFunctionSync(entry: string, outdir: string, settings: FunctionBundleSettings = {}): Metafile {
  return (buildSync(functionBuildOptions(entry, outdir, settings)) as BuildResult<{ metafile: true }>).metafile;
}

/** Bundles a handler (the bench): its metafile. */
export async function bundleFunction(entry: string, outdir: string, settings: FunctionBundleSettings = {}): Promise<Metafile> {
  return (await build(functionBuildOptions(entry, outdir, settings))).metafile as Metafile;
}

/** The output files of a bundle, as absolute paths. */
export interface BundleFiles {
  /** The handler file (`index.mjs`). */
  readonly entry: string;
  /** What a cold start loads: the handler file and every chunk it imports statically, transitively. */
  readonly coldLoaded: readonly string[];
  /** Every JavaScript file of the bundle (source maps left out). */
  readonly all: readonly string[];
}

/**
 * Which files a bundle loads at cold start (`import` statements, followed) and which it holds in
 * all, from the metafile of a build with functionBuildOptions.
 */
export function bundleFiles(metafile: Metafile, outdir: string): BundleFiles {
  const abs = (p: string) => resolve(REPO_ROOT, p);
  const outputs = Object.entries(metafile.outputs).filter(([path]) => path.endsWith('.mjs'));
  const entryKey = outputs.find(([path]) => abs(path) === resolve(outdir, ENTRY_FILE))?.[0];
  if (!entryKey) throw new Error(`no ${ENTRY_FILE} among the outputs in ${outdir}`);
  const cold = new Set<string>();
  const pending = [entryKey];
  while (pending.length > 0) {
    const path = pending.pop() as string;
    if (cold.has(path)) continue;
    cold.add(path);
    for (const i of metafile.outputs[path]?.imports ?? []) {
      if (i.kind === 'import-statement' && !i.external) pending.push(i.path);
    }
  }
  return { entry: abs(entryKey), coldLoaded: [...cold].map(abs), all: outputs.map(([path]) => abs(path)) };
}
