import { chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * The local data folder (VAULT_DATA_DIR, `.data/` by default) holds the server key and every
 * profile, so it is owner-only (0700, its files 0600), and one process at a time owns it: a lock
 * file names the owner so a second server or the admin CLI can say who holds it instead of the
 * store's bare "Database is closed".
 */
export const LOCK_FILE = 'agent-vault.lock';

export class DataDirError extends Error {
  override readonly name = 'DataDirError';
}

/** What the lock file says about the process that owns the data folder. */
export interface LockInfo {
  readonly pid: number;
  /** `server` (npm start) or `admin` (npm run admin). */
  readonly role: 'server' | 'admin';
  /** The HTTP port, once the server listens. */
  readonly port?: number;
  /** The embedded store's Unix socket, once it is open (the admin CLI talks to it). */
  readonly socket?: string;
  readonly started_at: string;
}

/** `.data/` for a folder under the working directory, else its absolute path: what a person typed. */
export function displayPath(dir: string): string {
  const rel = relative(process.cwd(), resolve(dir));
  return rel && !rel.startsWith('..') ? `${rel}/` : `${resolve(dir)}/`;
}

function errnoMessage(err: unknown, path: string): string {
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  return `${code} ${path}`;
}

/**
 * Creates the data folder (0700) or tightens an existing one, and fails fast with a message that
 * names the cause: a folder under /proc or /sys (virtual filesystems where the store would spin),
 * or one this user cannot write.
 */
export function prepareDataDir(dir: string): void {
  const abs = resolve(dir);
  let real = abs;
  try {
    real = realpathSync(abs);
  } catch {
    // Does not exist yet; its parent decides where it will live.
    try {
      real = join(realpathSync(dirname(abs)), abs.slice(dirname(abs).length + 1));
    } catch {
      // The parent does not exist either: mkdir below reports it.
    }
  }
  if (/^\/(proc|sys)(\/|$)/.test(real)) {
    throw new DataDirError(`VAULT_DATA_DIR ${real} is under /${real.split('/')[1]}, a virtual filesystem that cannot hold files: choose a normal folder (default .data)`);
  }
  try {
    mkdirSync(abs, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new DataDirError(`data folder ${displayPath(dir)} is not writable: ${errnoMessage(err, abs)}`);
  }
  const st = statSync(abs);
  if (!st.isDirectory()) throw new DataDirError(`data folder ${displayPath(dir)} is not a folder: ENOTDIR ${abs}`);
  try {
    if ((st.mode & 0o777) !== 0o700) chmodSync(abs, 0o700);
  } catch (err) {
    throw new DataDirError(`data folder ${displayPath(dir)} is not owned by this user and is readable by others: ${errnoMessage(err, abs)}`);
  }
}

/**
 * Owner-only modes for everything under the data folder: folders 0700, files and the socket 0600.
 * The store (LevelDB) creates its files with the process umask; the server sets umask 077, and
 * this fixes files a looser umask left behind.
 */
export function tightenModes(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const st = lstatSync(path);
    if (st.isSymbolicLink()) continue; // chmod would follow it out of the folder
    const want = st.isDirectory() ? 0o700 : 0o600;
    if ((st.mode & 0o777) !== want) chmodSync(path, want);
    if (st.isDirectory()) tightenModes(path);
  }
}

/** Whether a process with this pid exists (ours or another user's). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(path: string): LockInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
    return Number.isInteger(info.pid) && info.pid > 0 ? info : undefined;
  } catch {
    return undefined;
  }
}

/** The live process that holds the data folder, or undefined when it is free (no lock, or a stale one). */
export function lockHolder(dir: string): LockInfo | undefined {
  const info = readLock(join(dir, LOCK_FILE));
  return info && info.pid !== process.pid && isAlive(info.pid) ? info : undefined;
}

/** "data folder .data/ is in use by agent-vault pid N on port P": the message both CLIs print. */
export function inUseMessage(dir: string, holder: LockInfo): string {
  const what = holder.role === 'admin' ? 'the agent-vault admin CLI' : 'agent-vault';
  return `data folder ${displayPath(dir)} is in use by ${what} pid ${holder.pid}${holder.port !== undefined ? ` on port ${holder.port}` : ''}`;
}

export interface DataDirLock {
  /** Records more about this process (the HTTP port, the store socket) for others to read. */
  update(fields: Partial<Pick<LockInfo, 'port' | 'socket'>>): void;
  /** Removes the lock if this process still holds it. */
  release(): void;
}

/**
 * Takes the data folder's lock file (created exclusively, mode 0600). A lock whose process is
 * gone (a crash, kill -9) is taken over; a live holder gives a DataDirError naming its pid and port.
 */
export function acquireDataDirLock(dir: string, role: LockInfo['role']): DataDirLock {
  const path = join(dir, LOCK_FILE);
  let info: LockInfo = { pid: process.pid, role, started_at: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, `${JSON.stringify(info)}\n`, { flag: 'wx', mode: 0o600 });
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw new DataDirError(`data folder ${displayPath(dir)} is not writable: ${errnoMessage(err, path)}`);
      const holder = readLock(path);
      if (holder && holder.pid !== process.pid && isAlive(holder.pid)) throw new DataDirError(inUseMessage(dir, holder));
      if (attempt >= 3) throw new DataDirError(`data folder ${displayPath(dir)}: could not take over the stale lock ${path}; delete it and retry`);
      // Stale (its process is gone) or unreadable: take it over. Two processes racing here both
      // unlink, but only one wins the exclusive create above.
      try {
        unlinkSync(path);
      } catch {
        // Someone else removed it first.
      }
    }
  }
  return {
    update(fields) {
      info = { ...info, ...fields };
      // Write-then-rename, so a reader never sees half a lock.
      const tmp = `${path}.${process.pid}.tmp`;
      writeFileSync(tmp, `${JSON.stringify(info)}\n`, { mode: 0o600 });
      renameSync(tmp, path);
    },
    release() {
      if (readLock(path)?.pid === process.pid) {
        try {
          unlinkSync(path);
        } catch {
          // Already gone.
        }
      }
    },
  };
}
