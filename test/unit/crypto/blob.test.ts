import { describe, expect, it } from 'vitest';
import { DecryptionError, NONCE_BYTES, TAG_BYTES } from '../../../shared/crypto/aead.ts';
import { BLOB_OVERHEAD, BLOB_VERSION, SALT_BYTES, openBlob, parseBlob, sealBlob } from '../../../shared/crypto/blob.ts';
import { hkdf } from '../../../shared/crypto/hkdf.ts';
import { SERVER_KEY_ID_BYTES } from '../../../shared/crypto/server-key.ts';
import { thrown } from './helpers.ts';

const keyId = Buffer.from('0102030405060708', 'hex');
const keyFor = (salt: Buffer) => hkdf(salt, Buffer.from('root'), Buffer.from('enc'), 32);
const aad = Buffer.from('aad');
const plaintext = Buffer.from('hello');

describe('sealBlob', () => {
  it('lays out version ‖ key id ‖ salt ‖ nonce ‖ ciphertext ‖ tag', () => {
    // Arrange / Act
    const blob = sealBlob(keyId, keyFor, plaintext, aad);

    // Assert
    expect(BLOB_OVERHEAD).toBe(1 + SERVER_KEY_ID_BYTES + SALT_BYTES + NONCE_BYTES + TAG_BYTES);
    expect(blob).toHaveLength(BLOB_OVERHEAD + plaintext.length);
    expect(blob[0]).toBe(BLOB_VERSION);
    expect(blob.subarray(1, 9).equals(keyId)).toBe(true);
  });

  it('derives the key from the salt it stores', () => {
    // Arrange
    const salts: Buffer[] = [];
    const recording = (salt: Buffer) => {
      salts.push(Buffer.from(salt));
      return keyFor(salt);
    };

    // Act
    const blob = sealBlob(keyId, recording, plaintext, aad);

    // Assert
    expect(salts).toHaveLength(1);
    expect(parseBlob(blob).salt.equals(salts[0] as Buffer)).toBe(true);
  });

  it.each([0, 7, 9, 16])('throws RangeError for a %i-byte key id', (len) => {
    // Arrange / Act
    const err = thrown(() => sealBlob(Buffer.alloc(len), keyFor, plaintext, aad));

    // Assert
    expect(err).toBeInstanceOf(RangeError);
  });
});

describe('parseBlob', () => {
  it('splits a blob by position', () => {
    // Arrange
    const blob = sealBlob(keyId, keyFor, plaintext, aad);

    // Act
    const p = parseBlob(blob);

    // Assert
    expect(p.keyId.equals(keyId)).toBe(true);
    expect(p.salt).toHaveLength(SALT_BYTES);
    expect(p.nonce).toHaveLength(NONCE_BYTES);
    expect(p.ciphertext).toHaveLength(plaintext.length);
    expect(p.tag).toHaveLength(TAG_BYTES);
  });

  it('reads a blob that is a view into a larger buffer', () => {
    // Arrange
    const blob = sealBlob(keyId, keyFor, plaintext, aad);
    const backing = Buffer.concat([Buffer.from('junk'), blob, Buffer.from('junk')]);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 4, blob.length);

    // Act
    const opened = openBlob(view, keyId, keyFor, aad);

    // Assert
    expect(opened.equals(plaintext)).toBe(true);
  });

  it('throws DecryptionError for a blob shorter than the overhead', () => {
    // Arrange / Act
    const err = thrown(() => parseBlob(Buffer.alloc(BLOB_OVERHEAD - 1, BLOB_VERSION)));

    // Assert
    expect(err).toBeInstanceOf(DecryptionError);
  });

  it.each([0, 2, 255])('throws DecryptionError for version byte %i', (version) => {
    // Arrange
    const blob = sealBlob(keyId, keyFor, plaintext, aad);
    blob[0] = version;

    // Act
    const err = thrown(() => parseBlob(blob));

    // Assert
    expect(err).toBeInstanceOf(DecryptionError);
  });
});

describe('openBlob', () => {
  it('opens what sealBlob sealed', () => {
    // Arrange
    const blob = sealBlob(keyId, keyFor, plaintext, aad);

    // Act
    const opened = openBlob(blob, keyId, keyFor, aad);

    // Assert
    expect(opened.equals(plaintext)).toBe(true);
  });

  it('opens an empty plaintext of exactly the overhead length', () => {
    // Arrange
    const blob = sealBlob(keyId, keyFor, Buffer.alloc(0), aad);

    // Act
    const opened = openBlob(blob, keyId, keyFor, aad);

    // Assert
    expect(blob).toHaveLength(BLOB_OVERHEAD);
    expect(opened).toHaveLength(0);
  });

  it('throws DecryptionError when the key id is not the expected one, without deriving a key', () => {
    // Arrange
    const blob = sealBlob(keyId, keyFor, plaintext, aad);
    let derived = 0;

    // Act
    const err = thrown(() =>
      openBlob(blob, Buffer.from('0102030405060709', 'hex'), (s) => {
        derived++;
        return keyFor(s);
      }, aad),
    );

    // Assert
    expect(err).toBeInstanceOf(DecryptionError);
    expect(derived).toBe(0);
  });

  it('throws DecryptionError for different AAD', () => {
    // Arrange
    const blob = sealBlob(keyId, keyFor, plaintext, aad);

    // Act
    const err = thrown(() => openBlob(blob, keyId, keyFor, Buffer.from('aae')));

    // Assert
    expect(err).toBeInstanceOf(DecryptionError);
  });
});
