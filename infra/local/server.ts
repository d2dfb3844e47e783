import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { handler as agents } from '#functions/agents';
import { handler as keys } from '#functions/keys';
import { handler as meta } from '#functions/meta';
import { handler as profiles } from '#functions/profiles';
import { handler as runs } from '#functions/runs';
import { handler as webhooks } from '#functions/webhooks';
import { type Db, createDb } from '#shared/clients';
import { type Config, loadConfig, silenceSdkNodeVersionWarning } from '#shared/config';
import { resetDeps, setDeps } from '#shared/context';
import { type LocalDeps, createLocalDeps } from '#infra/local/deps';
import { type Logger, createLogger } from '#shared/log';
import { sleep } from '#shared/sleep';
import { ensureTable } from '#infra/local/table';
import { ensureApiKey, mintFirstApiKey } from '#shared/services/api-keys';
import type { RouteGroup } from '#shared/http/routes';
import { acquireDataDirLock, prepareDataDir, tightenModes } from './data-dir.ts';
import { openEmbeddedStore } from './embedded-dynamo.ts';
import { type LambdaHttpHandler, lambdaRequestListener } from './http-adapter.ts';

export interface LocalVaultOptions {
  /** Environment to read the configuration from (default: process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Keep dynalite in memory instead of under the data folder (tests). */
  readonly inMemory?: boolean;
  readonly log?: Logger;
}

export interface LocalVault {
  readonly url: string;
  readonly config: Config;
  readonly deps: LocalDeps & { db: Db };
  /** VAULT_DYNAMODB_ENDPOINT when set; otherwise the store is embedded and has no endpoint URL. */
  readonly dynamoEndpoint?: string;
  /** The embedded store's Unix socket (0600, in a 0700 folder); undefined with VAULT_DYNAMODB_ENDPOINT. */
  readonly storeSocket?: string;
  /**
   * The development API key minted at this start (no VAULT_BOOTSTRAP_API_KEY and the bootstrap
   * tenant had no key yet): to print once. Undefined on every later start.
   */
  readonly devApiKey?: string;
  close(): Promise<void>;
}

/**
 * Starts the vault locally: the same Lambda handlers behind a Node HTTP server on 127.0.0.1,
 * backed by an embedded dynalite (persisted under the data folder, reachable only through a Unix
 * socket) or VAULT_DYNAMODB_ENDPOINT. Takes the data folder's lock first, so a second server or
 * an unwritable folder fails with its own message.
 */
export async function startLocalVault(options: LocalVaultOptions = {}): Promise<LocalVault> {
  const config = loadConfig({ VAULT_MODE: 'local', ...(options.env ?? process.env) });
  // A person at a terminal reads one coloured line per entry; a pipe or a file gets JSON lines.
  const log = options.log ?? createLogger(undefined, 'info', process.stdout.isTTY ? 'pretty' : 'json');
  prepareDataDir(config.dataDir);
  const lock = acquireDataDirLock(config.dataDir, 'server');
  let embedded: Awaited<ReturnType<typeof openEmbeddedStore>> | undefined;
  let db: ReturnType<typeof createDb> | undefined;
  let server: Server | undefined;
  try {
    embedded = config.dynamoEndpoint
      ? undefined
      : await openEmbeddedStore({ dataDir: options.inMemory ? undefined : config.dataDir, socketDir: config.dataDir });
    // This process reaches its own embedded store in process; the admin CLI uses the socket.
    db = createDb({ ...config, storeSocket: embedded?.socketPath, storeHandler: embedded?.handler });
    if (embedded) lock.update({ socket: embedded.socketPath });
    await ensureTable(db.client, config.tableName);
    const deps = await createLocalDeps(config, { db, log });
    setDeps(deps);
    let devApiKey: string | undefined;
    if (config.bootstrapApiKey) {
      const outcome = await ensureApiKey(deps, config.bootstrapApiKey, config.bootstrapTenant);
      log.log('info', 'bootstrap API key ready', { tenant: config.bootstrapTenant, outcome });
    } else {
      devApiKey = await mintFirstApiKey(deps, config.bootstrapTenant);
    }
    const handlers: Record<RouteGroup, LambdaHttpHandler> = { agents, profiles, runs, keys, webhooks, meta };
    server = createServer(lambdaRequestListener(handlers, (line) => log.log(line.status >= 500 ? 'error' : 'info', 'request', line)));
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server?.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') {
          reject(
            new Error(
              `port ${config.port} on 127.0.0.1 is in use (another agent-vault, or another program): set PORT to a free port, e.g. PORT=${config.port + 1} npm start`,
            ),
          );
        } else if (err.code === 'EACCES') {
          reject(new Error(`port ${config.port} needs privileges this user lacks: set PORT to 1024 or above, e.g. PORT=3000 npm start`));
        } else {
          reject(err);
        }
      });
      server?.listen(config.port, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    lock.update({ port });
    // The key file, the lock and the store's files are all there by now: owner-only, whatever
    // umask created them or an older version left behind.
    tightenModes(config.dataDir);
    const listening = server;
    const openDb = db;
    const openStore = embedded;
    return {
      url: `http://127.0.0.1:${port}`,
      config,
      deps,
      dynamoEndpoint: config.dynamoEndpoint,
      storeSocket: embedded?.socketPath,
      devApiKey,
      async close() {
        await new Promise<void>((resolve) => {
          listening.close(() => resolve());
          listening.closeAllConnections();
        });
        await Promise.race([deps.dispatcher.drain(), sleep(5_000)]);
        // Retries waiting on their backoff stay pending in their delivery log; running attempts finish.
        deps.webhooks.stop();
        await Promise.race([deps.webhooks.drain(), sleep(5_000)]);
        resetDeps();
        openDb.client.destroy();
        await openStore?.close();
        lock.release();
      },
    };
  } catch (err) {
    server?.close();
    db?.client.destroy();
    await embedded?.close();
    lock.release();
    throw err;
  }
}

/** What the server prints about the tenant's API key at start: the dev key once, or how to mint one. */
export function apiKeyBanner(vault: Pick<LocalVault, 'devApiKey' | 'config'>): string {
  const tenant = vault.config.bootstrapTenant;
  if (vault.devApiKey) {
    return [
      `Development API key for tenant "${tenant}" (shown once; only its SHA-256 is stored):`,
      '',
      `    export KEY=${vault.devApiKey}`,
      '',
      `Lost it? Mint another: npm run admin -- create-api-key --tenant ${tenant}`,
      '',
    ].join('\n');
  }
  if (vault.config.bootstrapApiKey) return `API key from VAULT_BOOTSTRAP_API_KEY is ready for tenant "${tenant}"\n`;
  return `Tenant "${tenant}" already has an API key. Mint another (works while the server runs): npm run admin -- create-api-key --tenant ${tenant}\n`;
}

async function main(): Promise<void> {
  // Everything this process creates (store files, key file, socket) is owner-only.
  process.umask(0o077);
  silenceSdkNodeVersionWarning();
  const vault = await startLocalVault();
  const store = vault.config.dynamoEndpoint
    ? `DynamoDB at ${vault.config.dynamoEndpoint}`
    : `embedded dynalite in ${vault.config.dataDir}/`;
  process.stdout.write(`agent-vault listening on ${vault.url} (${store}, table ${vault.config.tableName})\n`);
  process.stdout.write(apiKeyBanner(vault));
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: shutting down\n`);
    vault.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`agent-vault failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
