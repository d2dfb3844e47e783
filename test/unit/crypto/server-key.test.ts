import { describe, expect, it } from 'vitest';
import {
  SERVER_KEY_ID_BYTES,
  ServerKeyRingError,
  generateServerKeyRingJson,
  parseServerKeyRing,
  rotateServerKeyRingJson,
} from '../../../shared/crypto/server-key.ts';
import { echoes, material, ringJson, thrown } from './helpers.ts';

const m1 = material('one');
const m2 = material('two');

describe('parseServerKeyRing', () => {
  it('derives a 32-byte key and an 8-byte id for the current entry', () => {
    // Arrange
    const json = JSON.stringify({ current: 'k1', k1: m1 });

    // Act
    const ring = parseServerKeyRing(json);

    // Assert
    expect(ring.current.name).toBe('k1');
    expect(ring.current.verifyKey).toHaveLength(32);
    expect(ring.current.id).toHaveLength(SERVER_KEY_ID_BYTES);
    expect(ring.current.idHex).toBe(ring.current.id.toString('hex'));
  });

  it('derives the same key and id from the same JSON', () => {
    // Arrange
    const json = ringJson('same');

    // Act
    const a = parseServerKeyRing(json).current;
    const b = parseServerKeyRing(json).current;

    // Assert
    expect(a.verifyKey.equals(b.verifyKey)).toBe(true);
    expect(a.id.equals(b.id)).toBe(true);
  });

  it('does not use the key material itself as the key', () => {
    // Arrange / Act
    const ring = parseServerKeyRing(JSON.stringify({ current: 'k1', k1: m1 }));

    // Assert
    expect(ring.current.verifyKey.equals(Buffer.from(m1, 'base64url'))).toBe(false);
    expect(ring.current.verifyKey.equals(Buffer.from(m1, 'utf8').subarray(0, 32))).toBe(false);
  });

  it('binds the entry name: the same material under another name gives another key and id', () => {
    // Arrange / Act
    const a = parseServerKeyRing(JSON.stringify({ current: 'k1', k1: m1 })).current;
    const b = parseServerKeyRing(JSON.stringify({ current: 'k2', k2: m1 })).current;

    // Assert
    expect(a.verifyKey.equals(b.verifyKey)).toBe(false);
    expect(a.id.equals(b.id)).toBe(false);
  });

  it('finds every entry by id bytes and by id hex', () => {
    // Arrange
    const ring = parseServerKeyRing(JSON.stringify({ current: 'k2', k1: m1, k2: m2 }));
    const k1 = parseServerKeyRing(JSON.stringify({ current: 'k1', k1: m1 })).current;

    // Act
    const byBytes = ring.byId(k1.id);
    const byHex = ring.byId(k1.idHex);
    const byUint8 = ring.byId(new Uint8Array(k1.id));

    // Assert
    expect(byBytes?.name).toBe('k1');
    expect(byHex?.name).toBe('k1');
    expect(byUint8?.verifyKey.equals(k1.verifyKey)).toBe(true);
    expect(ring.current.name).toBe('k2');
  });

  it('returns undefined for an id that is not in the ring', () => {
    // Arrange
    const ring = parseServerKeyRing(ringJson('x'));

    // Act
    const found = ring.byId(Buffer.alloc(SERVER_KEY_ID_BYTES));

    // Assert
    expect(found).toBeUndefined();
  });

  it('accepts material of exactly 32 characters', () => {
    // Arrange
    const json = JSON.stringify({ current: 'k1', k1: 'x'.repeat(32) });

    // Act
    const ring = parseServerKeyRing(json);

    // Assert
    expect(ring.current.name).toBe('k1');
  });

  it.each<[string, string, string[]]>([
    ['is not JSON', `{"current":"k1","k1":"${m1}"`, [m1]],
    ['is a JSON array', JSON.stringify([m1]), [m1]],
    ['is JSON null', 'null', []],
    ['is a JSON string', JSON.stringify(m1), [m1]],
    ['has no current entry', JSON.stringify({ k1: m1 }), [m1]],
    ['has a non-string current entry', JSON.stringify({ current: 1, k1: m1 }), [m1]],
    ['has material shorter than 32 characters', JSON.stringify({ current: 'k1', k1: m1.slice(0, 31) }), [m1.slice(0, 31)]],
    ['has an empty material', JSON.stringify({ current: 'k1', k1: '' }), []],
    ['has a non-string entry', JSON.stringify({ current: 'k1', k1: m1, k2: { m: m2 } }), [m1, m2]],
    ['names a missing current entry', JSON.stringify({ current: 'k9', k1: m1, k2: m2 }), [m1, m2]],
    ['has a short entry beside a good current one', JSON.stringify({ current: 'k1', k1: m1, k2: m2.slice(0, 20) }), [m1, m2.slice(0, 20)]],
  ])('throws ServerKeyRingError without echoing key material when the ring %s', (_label, json, secrets) => {
    // Arrange / Act
    const err = thrown(() => parseServerKeyRing(json));

    // Assert
    expect(err).toBeInstanceOf(ServerKeyRingError);
    expect(err.name).toBe('ServerKeyRingError');
    for (const s of secrets) expect(echoes(err.message, s, 8), err.message).toBe(false);
  });

  it('does not quote the value of "current" in its error (it could be misplaced key material)', () => {
    // Arrange
    const misplaced = 'x'.repeat(40);

    // Act
    const err = thrown(() => parseServerKeyRing(JSON.stringify({ current: misplaced, k1: m1 })));

    // Assert
    expect(err).toBeInstanceOf(ServerKeyRingError);
    expect(err.message).not.toContain(misplaced.slice(0, 8));
  });
});

describe('generateServerKeyRingJson', () => {
  it('writes a ring whose only entry, k1, is current', () => {
    // Arrange / Act
    const json = generateServerKeyRingJson();

    // Assert
    const doc = JSON.parse(json) as Record<string, string>;
    expect(Object.keys(doc).sort()).toEqual(['current', 'k1']);
    expect(doc.current).toBe('k1');
    expect(Buffer.from(doc.k1 as string, 'base64url')).toHaveLength(32);
    expect(parseServerKeyRing(json).current.name).toBe('k1');
  });

  it('uses the given entry name', () => {
    // Arrange / Act
    const ring = parseServerKeyRing(generateServerKeyRingJson('main'));

    // Assert
    expect(ring.current.name).toBe('main');
  });

  it('draws fresh material every time', () => {
    // Arrange / Act
    const a = parseServerKeyRing(generateServerKeyRingJson()).current;
    const b = parseServerKeyRing(generateServerKeyRingJson()).current;

    // Assert
    expect(a.id.equals(b.id)).toBe(false);
  });
});

describe('rotateServerKeyRingJson', () => {
  it('adds k2, makes it current and keeps k1 unchanged', () => {
    // Arrange
    const json = JSON.stringify({ current: 'k1', k1: m1 });

    // Act
    const { json: rotated, name } = rotateServerKeyRingJson(json);

    // Assert
    const doc = JSON.parse(rotated) as Record<string, string>;
    expect(name).toBe('k2');
    expect(doc.current).toBe('k2');
    expect(doc.k1).toBe(m1);
    expect(parseServerKeyRing(rotated).current.name).toBe('k2');
  });

  it('adds k3 on a second rotation', () => {
    // Arrange
    const once = rotateServerKeyRingJson(JSON.stringify({ current: 'k1', k1: m1 })).json;

    // Act
    const twice = rotateServerKeyRingJson(once);

    // Assert
    expect(twice.name).toBe('k3');
    expect(Object.keys(JSON.parse(twice.json)).sort()).toEqual(['current', 'k1', 'k2', 'k3']);
  });

  it('never overwrites an existing entry whose name it would otherwise pick', () => {
    // Arrange: two keys in the document, and k2 already taken.
    const json = JSON.stringify({ current: 'k2', k2: m2 });

    // Act
    const rotated = rotateServerKeyRingJson(json);

    // Assert
    const doc = JSON.parse(rotated.json) as Record<string, string>;
    expect(rotated.name).toBe('k3');
    expect(doc.k2).toBe(m2);
  });

  it('throws ServerKeyRingError for an invalid ring instead of rotating it', () => {
    // Arrange / Act
    const err = thrown(() => rotateServerKeyRingJson(JSON.stringify({ current: 'k1', k1: 'short' })));

    // Assert
    expect(err).toBeInstanceOf(ServerKeyRingError);
  });
});
