import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '#infra/local/data-dir';
import { type LocalVault, startLocalVault } from '#infra/local/server';
import { silentLogger } from '#shared/log';
import { freePort } from '#test/support/net';

/**
 * Issue 11, "first run that just works": each way `npm start` can fail has its own message, the
 * first start prints a development API key once, and the SDK's Node-version warning is silenced.
 */

const roots: string[] = [];
const children: ChildProcess[] = [];

function tempRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'av-first-'));
  roots.push(root);
  return root;
}

interface ServerProcess {
  readonly child: ChildProcess;
  readonly url: string;
  output(): string;
  readonly exited: Promise<number | null>;
}

/** Environment without the SDK warning switch, so the server's own silencing is what is tested. */
function cleanEnv(env: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env };
}

/** `infra/local/server.ts` as its own process; resolves once it has printed its API-key banner, or with its exit. */
async function spawnServer(env: Record<string, string>): Promise<ServerProcess & { code?: number | null }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'infra/local/server.ts'], { cwd: process.cwd(), env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.stdout?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const ready = await new Promise<{ url: string } | { code: number | null }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server neither started nor failed within 30 s:\n${output}`)), 30_000);
    const poll = setInterval(() => {
      const m = /agent-vault listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (m && /export KEY=|already has an API key|VAULT_BOOTSTRAP_API_KEY/.test(output)) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve({ url: m[1] as string });
      }
    }, 50);
    void exited.then((code) => {
      clearInterval(poll);
      clearTimeout(timer);
      resolve({ code });
    });
  });
  return { child, output: () => output, exited, url: 'url' in ready ? ready.url : '', ...('code' in ready ? { code: ready.code } : {}) };
}

async function stop(server: ServerProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill(signal);
  await server.exited;
}

let vault: LocalVault | undefined;

afterEach(async () => {
  await vault?.close();
  vault = undefined;
});

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

describe('npm start on one data folder', () => {
  it('prints a dev key once, refuses a second server with pid and port, says how to mint another key later, and takes over a stale lock', async () => {
    const dataDir = join(tempRoot(), 'data');
    const port = await freePort();

    // First start: a fresh data folder, no VAULT_BOOTSTRAP_API_KEY.
    const first = await spawnServer({ PORT: String(port), VAULT_DATA_DIR: dataDir });
    const key = /^ {4}export KEY=(avk_[A-Za-z0-9_-]{43})$/m.exec(first.output())?.[1];
    expect(key, first.output()).toBeDefined();
    const agents = await fetch(`${first.url}/v1/agents`, { headers: { authorization: `Bearer ${key}` } });
    expect(agents.status).toBe(200);
    expect(first.output()).not.toMatch(/NodeVersionSupportWarning/);

    // A second server on the same folder says who holds it.
    const second = await spawnServer({ PORT: String(await freePort()), VAULT_DATA_DIR: dataDir });
    expect(second.code).toBe(1);
    expect(second.output()).toContain(`is in use by agent-vault pid ${first.child.pid} on port ${port}`);
    expect(second.output()).not.toMatch(/Database is closed/);

    // A clean restart: no new key, but how to get one.
    await stop(first);
    const again = await spawnServer({ PORT: String(await freePort()), VAULT_DATA_DIR: dataDir });
    expect(again.url, again.output()).not.toBe('');
    expect(again.output()).not.toMatch(/export KEY=/);
    expect(again.output()).toContain('already has an API key. Mint another (works while the server runs): npm run admin -- create-api-key --tenant default');

    // Killed without a chance to clean up: the next start takes the stale lock over.
    await stop(again, 'SIGKILL');
    expect(JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8')).pid).toBe(again.child.pid);
    const afterCrash = await spawnServer({ PORT: String(await freePort()), VAULT_DATA_DIR: dataDir });
    expect(afterCrash.url, afterCrash.output()).not.toBe('');
    expect((await fetch(`${afterCrash.url}/v1/agents`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
    await stop(afterCrash);
  });
});

describe('startLocalVault failures', () => {
  const start = (env: Record<string, string>) => startLocalVault({ env: { PORT: '0', ...env }, log: silentLogger, inMemory: true });

  it('names the live process holding the data folder', async () => {
    const dataDir = join(tempRoot(), 'data');
    mkdirSync(dataDir, { mode: 0o700 });
    // The parent of this test process is alive and is not this process.
    writeFileSync(join(dataDir, LOCK_FILE), JSON.stringify({ pid: process.ppid, role: 'server', port: 4321, started_at: new Date().toISOString() }));

    await expect(start({ VAULT_DATA_DIR: dataDir })).rejects.toThrow(`data folder ${dataDir}/ is in use by agent-vault pid ${process.ppid} on port 4321`);
  });

  it('takes over a lock whose process is gone', async () => {
    const dataDir = join(tempRoot(), 'data');
    mkdirSync(dataDir, { mode: 0o700 });
    const gone = spawnSync(process.execPath, ['-e', 'process.pid']).pid as number;
    writeFileSync(join(dataDir, LOCK_FILE), JSON.stringify({ pid: gone, role: 'server', port: 4321, started_at: new Date().toISOString() }));

    vault = await start({ VAULT_DATA_DIR: dataDir });

    expect(JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid, role: 'server', port: Number(new URL(vault.url).port) });
  });

  it('says to set PORT when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
    const { port } = blocker.address() as { port: number };
    try {
      await expect(start({ PORT: String(port), VAULT_DATA_DIR: join(tempRoot(), 'data') })).rejects.toThrow(
        `port ${port} on 127.0.0.1 is in use (another agent-vault, or another program): set PORT to a free port, e.g. PORT=${port + 1} npm start`,
      );
    } finally {
      blocker.close();
    }
  });

  it('fails fast for a data folder under /proc', async () => {
    await expect(start({ VAULT_DATA_DIR: '/proc/self/agent-vault' })).rejects.toThrow(/VAULT_DATA_DIR \/proc\/\d+\/agent-vault is under \/proc, a virtual filesystem/);
  });

  it('says the data folder is not writable, with the errno and path', async () => {
    const file = join(tempRoot(), 'a-file');
    writeFileSync(file, '');

    await expect(start({ VAULT_DATA_DIR: join(file, 'data') })).rejects.toThrow(`is not writable: ENOTDIR ${join(file, 'data')}`);
  });

  it.skipIf(process.getuid?.() === 0)('says EACCES for a folder this user may not write', async () => {
    const parent = join(tempRoot(), 'locked');
    mkdirSync(parent, { mode: 0o500 });
    chmodSync(parent, 0o500);

    await expect(start({ VAULT_DATA_DIR: join(parent, 'data') })).rejects.toThrow(`is not writable: EACCES ${join(parent, 'data')}`);
  });
});
