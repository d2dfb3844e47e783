import { createDecipheriv, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ProfileKeys } from '../../../shared/credentials/profile-keys.ts';
import { NONCE_BYTES } from '../../../shared/crypto/aead.ts';
import { BLOB_OVERHEAD, SALT_BYTES, parseBlob } from '../../../shared/crypto/blob.ts';
import { openWithServerKey, sealWithServerKey } from '../../../shared/crypto/server-seal.ts';
import { binding, ring, secretOf } from './helpers.ts';

/**
 * The stored blob format, pinned: blobs written by the code before one-buffer sealing
 * (shared/crypto/blob.ts, shared/credentials/profile-keys.ts) must still open, and what is
 * sealed now must open with an independent re-statement of the format in bare node:crypto.
 */
const serverKey = ring('a').current;
const keys = () => new ProfileKeys(serverKey, binding(), secretOf('s1'));

/** Sealed by the previous implementation (commit 547db3f) with these inputs. */
const VECTORS = {
  password: '01f9bf672c08935d9e2d7f26676c0d88a493e67a2dce9c1683e4d3ac1d7937198f9520032a47d01665ddbb8ed60bdeb230f0d8b0d1af01f877a31b94',
  unicode: '01f9bf672c08935d9e64c0b90053b943822e0486841d0efd9fcb43c3b1625228171f5842502ca4cfbeb30f3917da1c803429cbba630b75e5607f0f42',
  server:
    '01f9bf672c08935d9e98291f8526b3961145971366e58e514c4484e4ba58bbc9e05fe778daef85bd7b61071866320019a913d8b7a859ba9ace7e3a55b9e055cc534232',
};

const lp = (...parts: Uint8Array[]): Buffer =>
  Buffer.concat(
    parts.flatMap((p) => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(p.length);
      return [len, p];
    }),
  );
const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};
const hmac = (key: Uint8Array, data: Uint8Array) => createHmac('sha256', key).update(data).digest();

/** A profile value opened the way docs/architecture.md, "Crypto and tokens" states it, without the vault's code. */
function referenceOpen(blob: Buffer, field: string, recordVersion: number): Buffer {
  const b = binding();
  const prk = hmac(serverKey.profileExtractKey, secretOf('s1'));
  const aad = lp(
    Buffer.from('v1'),
    Buffer.from(b.tenant),
    Buffer.from(b.agentId),
    b.slot,
    u64(b.generation),
    Buffer.from(field),
    u64(recordVersion),
  );
  const salt = blob.subarray(9, 9 + SALT_BYTES);
  const nonce = blob.subarray(9 + SALT_BYTES, 9 + SALT_BYTES + NONCE_BYTES);
  const key = hmac(prk, Buffer.concat([lp(Buffer.from('enc/v1'), salt, aad), Uint8Array.of(1)]));
  const d = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: 16 });
  d.setAAD(aad);
  d.setAuthTag(blob.subarray(blob.length - 16));
  return Buffer.concat([d.update(blob.subarray(9 + SALT_BYTES + NONCE_BYTES, blob.length - 16)), d.final()]);
}

describe('stored blob format', () => {
  it('opens profile values sealed by the previous implementation', () => {
    expect(keys().open('password', 3, Buffer.from(VECTORS.password, 'hex')).toString()).toBe('hunter2');
    expect(keys().open('pässwörd', 7, Buffer.from(VECTORS.unicode, 'hex')).toString()).toBe('wert€');
  });

  it('opens a server-sealed blob sealed by the previous implementation', () => {
    const opened = openWithServerKey(ring('a'), 'runner-signing-secret', ['tenant-1', 'agent-1'], Buffer.from(VECTORS.server, 'hex'));
    expect(opened.toString()).toBe('signing-secret');
  });

  it('seals profile values that the reference derivation opens', () => {
    for (const [field, rv, value] of [
      ['password', 3, 'hunter2'],
      ['pässwörd', 7, 'wert€'],
      ['big', 2 ** 40 + 5, 'x'.repeat(5000)],
      ['empty', 0, ''],
    ] as const) {
      const blob = keys().seal(field, rv, Buffer.from(value));
      expect(blob).toHaveLength(BLOB_OVERHEAD + Buffer.byteLength(value));
      expect(blob.subarray(1, 9).equals(serverKey.id)).toBe(true);
      expect(referenceOpen(blob, field, rv).toString()).toBe(value);
    }
  });

  it('seals each value under its own salt and nonce', () => {
    const k = keys();
    const blobs = Array.from({ length: 300 }, () => parseBlob(k.seal('password', 3, Buffer.from('hunter2'))));
    expect(new Set(blobs.map((p) => p.salt.toString('hex'))).size).toBe(300);
    expect(new Set(blobs.map((p) => p.nonce.toString('hex'))).size).toBe(300);
    // Salt and nonce are drawn together: a nonce never repeats the salt's bytes.
    for (const p of blobs) expect(p.nonce.equals(p.salt.subarray(0, NONCE_BYTES))).toBe(false);
  });

  it('refuses a value sealed for another field or record version', () => {
    const blob = keys().seal('password', 3, Buffer.from('hunter2'));
    expect(() => keys().open('passwore', 3, blob)).toThrow();
    expect(() => keys().open('password', 4, blob)).toThrow();
    expect(() => referenceOpen(blob, 'password', 4)).toThrow();
  });

  it('keeps a server-sealed round trip', () => {
    const blob = sealWithServerKey(ring('a'), 'p', ['c'], Buffer.from('v'));
    expect(openWithServerKey(ring('a'), 'p', ['c'], blob).toString()).toBe('v');
  });
});
