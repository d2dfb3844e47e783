import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ServerKeyRing, generateServerKeyRingJson, parseServerKeyRing } from './server-key.ts';

export const KEY_RING_FILE = 'server-key.json';

/**
 * Local mode: reads the server key ring from `<dataDir>/server-key.json`, generating it on first
 * start (mode 0600, created exclusively so two starting processes cannot write different keys).
 */
export async function loadOrCreateLocalKeyRing(dataDir: string): Promise<ServerKeyRing> {
  const path = join(dataDir, KEY_RING_FILE);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  try {
    const fh = await open(path, 'wx', 0o600);
    try {
      await fh.writeFile(generateServerKeyRingJson());
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return parseServerKeyRing(await readFile(path, 'utf8'));
}
