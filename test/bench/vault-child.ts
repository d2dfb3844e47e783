/**
 * The local vault as a child process of the bench, so the load generator does not share its
 * event loop: `node --import tsx test/bench/vault-child.ts`. Serves startLocalVault over
 * in-memory dynalite (in the server's store thread, also reachable through its Unix socket) on a free loopback port and prints one JSON line
 * `{"url", "storeSocket"}`. Exits on SIGTERM, or when the parent closes stdin (so it never
 * outlives the bench).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalVault } from '#infra/local/server';
import { createLogger } from '#shared/log';

const apiKey = process.env.BENCH_API_KEY;
if (!apiKey) throw new Error('BENCH_API_KEY is required');
const dataDir = mkdtempSync(join(tmpdir(), 'agent-vault-bench-child-'));
// Request lines are logged at "info"; only warnings and errors reach stderr here.
const log = createLogger((line) => process.stderr.write(`${line}\n`), 'warn');
const vault = await startLocalVault({
  env: { PORT: '0', VAULT_DATA_DIR: dataDir, VAULT_BOOTSTRAP_API_KEY: apiKey, VAULT_BOOTSTRAP_TENANT: 'acme' },
  inMemory: true,
  log,
});
process.stdout.write(`${JSON.stringify({ url: vault.url, storeSocket: vault.storeSocket })}\n`);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  const exit = () => {
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  };
  vault.close().then(exit, exit);
  setTimeout(exit, 5_000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
