import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KEY_RING_FILE, loadOrCreateLocalKeyRing } from '#infra/local/key-ring-file';
import { ServerKeyRingError, parseServerKeyRing } from '../../../shared/crypto/server-key.ts';
import { ringJson } from '../crypto/helpers.ts';

const posix = process.platform !== 'win32';

describe('loadOrCreateLocalKeyRing', () => {
  let root: string;
  let dataDir: string;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'agent-vault-keyring-'));
    dataDir = join(root, 'nested', 'data');
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('creates the data folder and a parseable key ring on first call', async () => {
    // Arrange / Act
    const ring = await loadOrCreateLocalKeyRing(dataDir);

    // Assert
    const onDisk = parseServerKeyRing(await readFile(join(dataDir, KEY_RING_FILE), 'utf8'));
    expect(onDisk.current.idHex).toBe(ring.current.idHex);
  });

  it.runIf(posix)('creates the key file with mode 0600', async () => {
    // Arrange / Act
    await loadOrCreateLocalKeyRing(dataDir);

    // Assert
    const { mode } = await stat(join(dataDir, KEY_RING_FILE));
    expect(mode & 0o777).toBe(0o600);
  });

  it.runIf(posix)('creates a missing data folder with mode 0700', async () => {
    // Arrange / Act
    await loadOrCreateLocalKeyRing(dataDir);

    // Assert
    const { mode } = await stat(dataDir);
    expect(mode & 0o777).toBe(0o700);
  });

  it('returns the same key id and leaves the file unchanged on a second call', async () => {
    // Arrange
    const first = await loadOrCreateLocalKeyRing(dataDir);
    const before = await readFile(join(dataDir, KEY_RING_FILE), 'utf8');

    // Act
    const second = await loadOrCreateLocalKeyRing(dataDir);

    // Assert
    expect(second.current.idHex).toBe(first.current.idHex);
    expect(second.current.verifyKey.equals(first.current.verifyKey)).toBe(true);
    expect(await readFile(join(dataDir, KEY_RING_FILE), 'utf8')).toBe(before);
  });

  it('gives every concurrent first call the same key id', async () => {
    // Arrange / Act
    const rings = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateLocalKeyRing(dataDir)));

    // Assert
    expect(new Set(rings.map((r) => r.current.idHex)).size).toBe(1);
  });

  it('loads an existing ring as it is', async () => {
    // Arrange
    const json = ringJson('existing', 'main');
    await loadOrCreateLocalKeyRing(dataDir); // create the folder
    await writeFile(join(dataDir, KEY_RING_FILE), json);

    // Act
    const ring = await loadOrCreateLocalKeyRing(dataDir);

    // Assert
    expect(ring.current.name).toBe('main');
    expect(ring.current.idHex).toBe(parseServerKeyRing(json).current.idHex);
  });

  it('throws ServerKeyRingError for a corrupt file and does not replace it', async () => {
    // Arrange
    await loadOrCreateLocalKeyRing(dataDir);
    await writeFile(join(dataDir, KEY_RING_FILE), 'not json');

    // Act
    const result = loadOrCreateLocalKeyRing(dataDir);

    // Assert
    await expect(result).rejects.toBeInstanceOf(ServerKeyRingError);
    expect(await readFile(join(dataDir, KEY_RING_FILE), 'utf8')).toBe('not json');
  });
});
