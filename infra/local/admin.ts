import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Db, createDb } from '#shared/clients';
import { dynamoStore, indexUnindexedProfiles, type SignItemsOutcome, signUnsignedItems } from '#shared/store/dynamodb';
import { itemSigner } from '#shared/store/signer';
import { type Config, loadConfig, silenceSdkNodeVersionWarning } from '#shared/config';
import { KEY_RING_FILE, loadOrCreateLocalKeyRing } from '#infra/local/key-ring-file';
import { type ServerKeyRing, rotateServerKeyRingJson } from '#shared/crypto/server-key';
import { type AuditVerification, verifyAuditLog } from '#shared/audit/log';
import { createLogger } from '#shared/log';
import { ensureTable } from '#infra/local/table';
import { API_KEY_PREFIX, createApiKey as createAuditedApiKey } from '#shared/services/api-keys';
import { type DataDirLock, acquireDataDirLock, displayPath, inUseMessage, isAlive, lockHolder, prepareDataDir } from './data-dir.ts';
import { type EmbeddedStore, openEmbeddedStore } from './embedded-dynamo.ts';

const USAGE = `agent-vault admin

  npm run admin -- create-api-key --tenant <tenant> [--name <text>] [--role admin|member] [--label <text>]
      Mints a tenant API key, prints it once, stores only its SHA-256. Role: admin (default;
      manages API keys and sees every profile) or member (its own and granted profiles).
      Local store: works whether or not the server runs (while it runs, through its store's
      socket in the data folder). Deployed table: VAULT_MODE=aws VAULT_TABLE_NAME=<table> AWS_REGION=<region>
      VAULT_SERVER_KEY_SECRET_ID=<ServerKeySecretArn> (the key item carries a MAC under the server key).

  npm run admin -- new-api-key
      Prints a random, well-formed API key without storing it (for VAULT_BOOTSTRAP_API_KEY).

  npm run stop        (npm run admin -- stop)
      Stops the local server that holds the data folder (VAULT_DATA_DIR, default .data), by the
      pid in its lock file, and waits until it has exited.

  npm run admin -- verify-audit [--tenant <tenant>]
      Checks the MAC of every audit record (all tenants, or one) under the server key ring, and
      each writer's chain of records and its head, and lists any record that was edited, moved,
      extended or deleted (EDITED / MOVED / DELETED lines); exits 1 if one was. Records past
      their retention are not missed. An operator tool: it scans the table's audit items. Same
      store options as create-api-key; on AWS also VAULT_SERVER_KEY_SECRET_ID=<secret>.

  npm run admin -- sign-items
      Signs the items of the local data folder written before this vault version signed every
      item (shared/store/signer.ts), under the server key ring: run it once after upgrading, with
      the server stopped or running. You attest that the table was not tampered with: an
      unsigned item is signed as it is. Items whose MAC fails are never signed; they are listed,
      and the command exits 1.

  npm run admin -- index-profiles
      Adds the name-index keys (GET /v1/auth-profiles) to the profiles written before this vault
      version had the index; run it once after upgrading, with the server stopped or running.
      Same store options as create-api-key (local data folder, or a deployed table). An operator
      tool: it scans the table's profile items once.

  npm run admin -- rotate-server-key
      Local mode: adds a new key to <data dir>/${KEY_RING_FILE} and makes it current. Existing
      profiles keep opening; each moves to the new key when it is next written.
`;

/**
 * Runs `fn` against the configured store. Local mode: the embedded store has one owner at a
 * time. With a server running, talk to its store through the socket its lock file names;
 * otherwise take the lock and open the store here.
 */
async function withStore<T>(fn: (db: Db, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig();
  let storeSocket: string | undefined;
  let embedded: EmbeddedStore | undefined;
  let lock: DataDirLock | undefined;
  if (config.mode === 'local' && !config.dynamoEndpoint) {
    prepareDataDir(config.dataDir);
    const holder = lockHolder(config.dataDir);
    if (holder?.socket) {
      storeSocket = holder.socket;
    } else if (holder) {
      throw new Error(`${inUseMessage(config.dataDir, holder)} and its store is not open yet: retry in a moment`);
    } else {
      lock = acquireDataDirLock(config.dataDir, 'admin');
      try {
        embedded = await openEmbeddedStore({ dataDir: config.dataDir });
      } catch (err) {
        lock.release();
        throw err;
      }
      storeSocket = embedded.socketPath;
    }
  }
  const db = createDb({ ...config, storeSocket });
  try {
    if (config.mode === 'local') await ensureTable(db.client, config.tableName);
    return await fn(db, config);
  } finally {
    db.client.destroy();
    await embedded?.close();
    lock?.release();
  }
}

function createApiKey(tenant: string, options: { name?: string; role: 'admin' | 'member'; label?: string }): Promise<string> {
  // API key items carry a MAC under the server key (covering the role), so minting needs the ring;
  // the key's creation is audited like one made over POST /v1/api-keys, by the key id "admin-cli".
  return withStore(async (db, config) => {
    const serverKeys = await serverKeyRing(config);
    const log = createLogger();
    const deps = { store: dynamoStore(db, itemSigner(serverKeys, log)), config, now: () => new Date(), serverKeys, log };
    const caller = { tenant, apiKeyId: 'admin-cli', role: 'admin' as const };
    const created = await createAuditedApiKey(deps, caller, {
      name: options.name ?? options.label ?? 'unnamed key',
      role: options.role,
      label: options.label,
    });
    return created.api_key;
  });
}

/** Checks every audit record's MAC and every writer's chain under the server key ring (local file, or Secrets Manager on AWS). */
function verifyAudit(tenant: string | undefined): Promise<AuditVerification> {
  return withStore(async (db, config) => {
    const serverKeys = await serverKeyRing(config);
    return verifyAuditLog({ store: dynamoStore(db, itemSigner(serverKeys, createLogger())), serverKeys, now: () => new Date() }, tenant);
  });
}

/** The server key ring: the data folder's locally, Secrets Manager's on AWS (API key items carry a MAC under it). */
async function serverKeyRing(config: Config): Promise<ServerKeyRing> {
  if (config.mode === 'local') return loadOrCreateLocalKeyRing(config.dataDir);
  if (!config.serverKeySecretId)
    throw new Error(
      'VAULT_SERVER_KEY_SECRET_ID (the ServerKeySecretArn output) is required for a deployed table (API key items and audit records carry MACs under the server key)',
    );
  const { loadServerKeyRingFromSecretsManager } = await import('#shared/aws/server-key-secret');
  return loadServerKeyRingFromSecretsManager(config.serverKeySecretId);
}

/** Signs the unsigned items of the local data folder (the operator attests they are untampered). */
function signItems(): Promise<SignItemsOutcome> {
  return withStore(async (db, config) => {
    if (config.mode !== 'local') throw new Error('sign-items signs a local data folder (VAULT_MODE=local)');
    return signUnsignedItems(db, itemSigner(await serverKeyRing(config), createLogger()));
  });
}

async function rotateLocalServerKey(): Promise<string> {
  const config = loadConfig();
  if (config.mode !== 'local')
    throw new Error(
      'rotate-server-key rotates the local key file; on AWS edit the Secrets Manager secret (see docs/deploy.md, "Rotate the server key")',
    );
  await loadOrCreateLocalKeyRing(config.dataDir); // a first rotation on a fresh data folder
  const path = join(config.dataDir, KEY_RING_FILE);
  const { json, name } = rotateServerKeyRingJson(await readFile(path, 'utf8'));
  // Write-then-rename: a crash mid-write must never leave a ring that lost its keys.
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, json, { mode: 0o600, flush: true });
  await rename(tmp, path);
  return name;
}

async function main(argv: string[]): Promise<void> {
  process.umask(0o077); // the store's files and the key file are owner-only
  silenceSdkNodeVersionWarning();
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      tenant: { type: 'string' },
      label: { type: 'string' },
      name: { type: 'string' },
      role: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return;
  }
  switch (command) {
    case 'create-api-key': {
      if (!values.tenant) throw new Error('create-api-key needs --tenant <tenant>');
      if (values.role !== undefined && values.role !== 'admin' && values.role !== 'member')
        throw new Error('--role must be admin or member');
      const role = values.role ?? 'admin';
      const key = await createApiKey(values.tenant, { name: values.name, role, label: values.label });
      process.stderr.write(`API key (${role}) for tenant "${values.tenant}" (shown once; only its SHA-256 is stored):\n`);
      process.stdout.write(`${key}\n`);
      return;
    }
    case 'stop': {
      const config = loadConfig();
      const holder = lockHolder(config.dataDir);
      if (holder?.role !== 'server') {
        process.stdout.write(`no agent-vault server holds data folder ${displayPath(config.dataDir)}\n`);
        return;
      }
      process.kill(holder.pid, 'SIGTERM');
      // The server drains its queue (up to 5 s) before it exits; wait for that, then say so.
      for (let i = 0; i < 200 && isAlive(holder.pid); i++) await new Promise((r) => setTimeout(r, 50));
      if (isAlive(holder.pid))
        throw new Error(`agent-vault pid ${holder.pid} did not exit within 10 s; kill -9 ${holder.pid} stops it at once`);
      process.stdout.write(`stopped agent-vault pid ${holder.pid}${holder.port !== undefined ? ` (port ${holder.port})` : ''}\n`);
      return;
    }
    case 'new-api-key':
      process.stdout.write(`${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}\n`);
      return;
    case 'verify-audit': {
      const { checked, problems } = await verifyAudit(values.tenant);
      for (const p of problems) process.stdout.write(`${p.kind.toUpperCase()} ${p.pk} ${p.sk}: ${p.problem}\n`);
      process.stdout.write(`${checked} audit item(s) checked, ${problems.length} problem(s)\n`);
      if (problems.length > 0) process.exitCode = 1;
      return;
    }
    case 'sign-items': {
      const { signed, resigned, intact, refused } = await signItems();
      for (const r of refused)
        process.stdout.write(
          `REFUSED ${r.kind} ${r.pk} ${r.sk}: fails its integrity check; not signed (delete it, or restore it from a backup)\n`,
        );
      process.stdout.write(
        `${signed} item(s) signed, ${resigned} re-signed from an older MAC, ${intact} already signed, ${refused.length} refused\n`,
      );
      if (refused.length > 0) process.exitCode = 1;
      return;
    }
    case 'index-profiles': {
      const { indexed, already } = await withStore((db) => indexUnindexedProfiles(db));
      process.stdout.write(`${indexed} profile(s) indexed, ${already} already indexed\n`);
      return;
    }
    case 'rotate-server-key': {
      const name = await rotateLocalServerKey();
      process.stdout.write(`server key "${name}" is now current; restart the server to use it\n`);
      return;
    }
    default:
      throw new Error(`unknown command "${command}"\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`admin: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
