import { randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalVault, startLocalVault } from '#infra/local/server';
import { KEY_RING_FILE } from '#infra/local/key-ring-file';
import { silentLogger } from '#shared/log';

/**
 * Issue 8 item 1: the embedded store must not be reachable by other local processes or web
 * pages. dynalite takes any SigV4 signature and answers every Origin with CORS "*", so a TCP
 * port on loopback would let any local process or page write API keys or rewrite runner URLs.
 */

/** TCP ports this process is listening on, from /proc (Linux): its socket inodes × /proc/net/tcp{,6}. */
function listeningTcpPorts(): Set<number> {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m?.[1]) inodes.add(m[1]);
    } catch {
      // fd closed between readdir and readlink
    }
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local_address is HEX_IP:HEX_PORT, st 0A is LISTEN, inode is column 10.
      if (cols[3] === '0A' && cols[9] && inodes.has(cols[9])) ports.add(Number.parseInt(cols[1]?.split(':')[1] ?? '', 16));
    }
  }
  return ports;
}

function modeOf(path: string): number {
  return lstatSync(path).mode & 0o777;
}

/** Every path under dir (not following links) with its permission bits. */
function modesUnder(dir: string): Array<{ path: string; mode: number; dir: boolean }> {
  const out: Array<{ path: string; mode: number; dir: boolean }> = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    out.push({ path, mode: modeOf(path), dir: entry.isDirectory() });
    if (entry.isDirectory()) out.push(...modesUnder(path));
  }
  return out;
}

const dirs: string[] = [];
let vault: LocalVault | undefined;

function tempRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'av-sec-'));
  dirs.push(root);
  return root;
}

function start(dataDir: string, inMemory = false): Promise<LocalVault> {
  return startLocalVault({ env: { PORT: '0', VAULT_DATA_DIR: dataDir }, inMemory, log: silentLogger });
}

afterEach(async () => {
  await vault?.close();
  vault = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('the local store', () => {
  it.skipIf(process.platform !== 'linux')('opens no TCP listener besides the HTTP API', async () => {
    const before = listeningTcpPorts();

    vault = await start(join(tempRoot(), 'data'));
    const after = listeningTcpPorts();

    const added = [...after].filter((p) => !before.has(p));
    expect(added).toEqual([Number(new URL(vault.url).port)]);
  });

  it('has no TCP endpoint: the store is a Unix socket, mode 0600, in a 0700 folder', async () => {
    vault = await start(join(tempRoot(), 'data'));

    expect(vault.dynamoEndpoint).toBeUndefined();
    const socket = vault.storeSocket as string;
    expect(statSync(socket).isSocket()).toBe(true);
    expect(modeOf(socket)).toBe(0o600);
    expect(modeOf(join(socket, '..'))).toBe(0o700);
  });

  it('answers through its socket only: the socket file is the way in, and it is gone after close', async () => {
    vault = await start(join(tempRoot(), 'data'));
    const socket = vault.storeSocket as string;

    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ socketPath: socket, path: '/', method: 'GET' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    await vault.close();
    vault = undefined;

    expect(status).toBe(200); // dynalite's health answer, reached by this user through the socket
    expect(() => statSync(socket)).toThrow(/ENOENT/);
  });

  it('puts the socket in a private temp folder when the data folder path is too long for a socket address', async () => {
    const deep = join(tempRoot(), 'x'.repeat(60), 'y'.repeat(60));
    mkdirSync(deep, { recursive: true });

    vault = await start(deep);

    const socket = vault.storeSocket as string;
    expect(socket.length).toBeLessThanOrEqual(103);
    expect(socket.startsWith(deep)).toBe(false);
    expect(modeOf(socket)).toBe(0o600);
    expect(modeOf(join(socket, '..'))).toBe(0o700);
  });
});

describe('the data folder', () => {
  it('is tightened to 0700 with files 0600 when it exists with looser bits', async () => {
    const dataDir = join(tempRoot(), 'data');
    mkdirSync(join(dataDir, 'old'), { recursive: true, mode: 0o755 });
    chmodSync(dataDir, 0o755);
    writeFileSync(join(dataDir, 'old', 'notes.txt'), 'x', { mode: 0o644 });

    vault = await start(dataDir);

    expect(modeOf(dataDir)).toBe(0o700);
    const entries = modesUnder(dataDir);
    expect(entries.map((e) => e.path)).toEqual(expect.arrayContaining([join(dataDir, KEY_RING_FILE), join(dataDir, 'dynamodb')]));
    for (const e of entries) expect({ path: e.path, mode: e.mode.toString(8) }).toEqual({ path: e.path, mode: e.dir ? '700' : '600' });
  });
});

describe('the server key file', () => {
  async function startWithKeyFile(content: string, mode: number): Promise<string> {
    const dataDir = join(tempRoot(), 'data');
    mkdirSync(dataDir, { mode: 0o700 });
    writeFileSync(join(dataDir, KEY_RING_FILE), content, { mode });
    chmodSync(join(dataDir, KEY_RING_FILE), mode);
    try {
      vault = await start(dataDir, true);
    } catch (err) {
      return (err as Error).message;
    }
    return 'started';
  }
  const goodRing = () => JSON.stringify({ current: 'k1', k1: randomBytes(32).toString('base64url') });

  it('loads when owner-only', async () => {
    expect(await startWithKeyFile(goodRing(), 0o600)).toBe('started');
  });

  it.each([0o644, 0o640, 0o604, 0o660])('is refused when its mode is %o, with the chmod that fixes it', async (mode) => {
    const message = await startWithKeyFile(goodRing(), mode);

    expect(message).toMatch(/server key file .*server-key\.json is readable or writable by group or others/);
    expect(message).toContain('chmod 600');
  });

  it('is refused when empty', async () => {
    expect(await startWithKeyFile('', 0o600)).toMatch(/has 0 bytes, not a key ring/);
  });

  it('is refused when a key entry is too short, without echoing it', async () => {
    const message = await startWithKeyFile(JSON.stringify({ current: 'k1', k1: 'short-key-material' }), 0o600);

    expect(message).toMatch(/shorter than 32 characters/);
    expect(message).not.toContain('short-key-material');
  });

  it('is refused when larger than any key ring', async () => {
    expect(await startWithKeyFile(' '.repeat(70 * 1024), 0o600)).toMatch(/has 71680 bytes, not a key ring/);
  });
});
