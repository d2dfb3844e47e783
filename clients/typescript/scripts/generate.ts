/**
 * Regenerates src/schema.d.ts from the vault's OpenAPI document with openapi-typescript's default
 * flags. The document is built in process from the route table (shared/schemas/openapi.ts): no
 * server needed. `--check` compares instead of writing and exits 1 when the committed file is
 * stale (test/e2e/sdk-typescript.e2e.test.ts runs it).
 *
 *   npm run generate -w @agent-vault/client            (or: npx tsx clients/typescript/scripts/generate.ts)
 *   npx tsx clients/typescript/scripts/generate.ts --check
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildOpenApi } from '../../../shared/schemas/openapi.ts';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(pkg, 'src', 'schema.d.ts');

/** The generated declarations for the current document. */
export function generateSchema(): string {
  const dir = mkdtempSync(join(tmpdir(), 'agent-vault-sdk-'));
  try {
    const doc = join(dir, 'openapi.json');
    const out = join(dir, 'schema.d.ts');
    writeFileSync(doc, JSON.stringify(buildOpenApi(), null, 2));
    // The package's own openapi-typescript (it needs TypeScript 5's compiler API; the root has 7).
    execFileSync(process.execPath, [join(pkg, 'node_modules', 'openapi-typescript', 'bin', 'cli.js'), doc, '--output', out], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    return readFileSync(out, 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const fresh = generateSchema();
  if (process.argv.includes('--check')) {
    const committed = readFileSync(target, 'utf8');
    if (committed !== fresh) {
      process.stderr.write('clients/typescript/src/schema.d.ts is stale: run `npm run generate -w @agent-vault/client` and commit it\n');
      process.exit(1);
    }
    process.stdout.write('clients/typescript/src/schema.d.ts is up to date\n');
  } else {
    writeFileSync(target, fresh);
    process.stdout.write('wrote clients/typescript/src/schema.d.ts\n');
  }
}
