import { randomBytes } from 'node:crypto';
import { link, mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { type ServerKeyRing, ServerKeyRingError, generateServerKeyRingJson, parseServerKeyRing } from '#shared/crypto/server-key';

export const KEY_RING_FILE = 'server-key.json';

/** A ring of a few hundred rotations is a few KiB; anything bigger is not a key file. */
const MAX_KEY_RING_BYTES = 64 * 1024;

/**
 * Local mode: reads the server key ring from `<dataDir>/server-key.json`, generating it on first
 * start (mode 0600). The new ring is written to a temporary file, synced, then hard-linked into
 * place: the link fails if the file exists, so two starting processes cannot write different
 * keys, and a crash can never leave a half-written key file behind.
 *
 * On load the file must be owner-only (no group/other bits: the key is half of what opens every
 * profile) and of a plausible length; either fault is refused with a message saying how to fix it,
 * never with the file's content.
 */
export async function loadOrCreateLocalKeyRing(dataDir: string): Promise<ServerKeyRing> {
  const path = join(dataDir, KEY_RING_FILE);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const tmp = join(dataDir, `.${KEY_RING_FILE}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(generateServerKeyRingJson());
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await unlink(tmp);
  }
  return parseServerKeyRing(await readKeyRingFile(path));
}

async function readKeyRingFile(path: string): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const st = await fh.stat(); // of the file opened, so a swap after the check changes nothing
    if (st.mode & 0o077) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw new ServerKeyRingError(`server key file ${path} is readable or writable by group or others (mode ${mode}): run chmod 600 ${path}`);
    }
    if (st.size === 0 || st.size > MAX_KEY_RING_BYTES) {
      throw new ServerKeyRingError(`server key file ${path} has ${st.size} bytes, not a key ring (expected 1 B – 64 KiB of JSON); restore it from a backup`);
    }
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}
