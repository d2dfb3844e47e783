import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { type ServerKeyRing, generateServerKeyRingJson, parseServerKeyRing } from './server-key.ts';

export const KEY_RING_FILE = 'server-key.json';

/**
 * Local mode: reads the server key ring from `<dataDir>/server-key.json`, generating it on first
 * start (mode 0600). The new ring is written to a temporary file, synced, then hard-linked into
 * place: the link fails if the file exists, so two starting processes cannot write different
 * keys, and a crash can never leave a half-written key file behind.
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
  return parseServerKeyRing(await readFile(path, 'utf8'));
}
