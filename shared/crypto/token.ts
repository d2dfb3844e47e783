import { randomBytes } from 'node:crypto';
import { crc32 } from './crc32.ts';

export const TOKEN_PREFIX = 'avt_';
export const SLOT_BYTES = 16;
export const SECRET_BYTES = 32;
const BODY_BYTES = SLOT_BYTES + SECRET_BYTES + 4;
/** `avt_` + 70 base64url characters (52 bytes, no padding). */
export const TOKEN_LENGTH = TOKEN_PREFIX.length + Math.ceil((BODY_BYTES * 4) / 3);
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export interface ParsedToken {
  /** Names the profile item: first 16 bytes of SHA-256 over (tenant, agent, name). */
  readonly slot: Buffer;
  /** 256 random bits; the root of every key of the profile. Never stored. */
  readonly secret: Buffer;
}

/** Why a string is not a well-formed auth token. Carries nothing of the token itself. */
export class TokenFormatError extends Error {
  override readonly name = 'TokenFormatError';
}

/** Formats a token from its slot and secret, appending the CRC-32 of both. */
export function formatToken(slot: Uint8Array, secret: Uint8Array): string {
  if (slot.length !== SLOT_BYTES || secret.length !== SECRET_BYTES) {
    throw new RangeError('token slot must be 16 bytes and secret 32 bytes');
  }
  const body = Buffer.alloc(BODY_BYTES);
  body.set(slot, 0);
  body.set(secret, SLOT_BYTES);
  body.writeUInt32BE(crc32(body.subarray(0, SLOT_BYTES + SECRET_BYTES)), SLOT_BYTES + SECRET_BYTES);
  return TOKEN_PREFIX + body.toString('base64url');
}

/** A fresh token for a slot: 32 bytes from the CSPRNG. */
export function newToken(slot: Uint8Array): { token: string; secret: Buffer } {
  const secret = randomBytes(SECRET_BYTES);
  return { token: formatToken(slot, secret), secret };
}

/**
 * Parses a token by position. Rejects a wrong prefix, a wrong length, characters outside
 * base64url, a non-canonical encoding and a CRC mismatch — all before any database call.
 */
export function parseToken(token: string): ParsedToken {
  if (!token.startsWith(TOKEN_PREFIX)) throw new TokenFormatError('auth_token must start with "avt_"');
  if (token.length !== TOKEN_LENGTH) {
    throw new TokenFormatError(`auth_token must be ${TOKEN_LENGTH} characters long`);
  }
  const encoded = token.slice(TOKEN_PREFIX.length);
  if (!BASE64URL.test(encoded)) throw new TokenFormatError('auth_token contains characters outside base64url');
  const body = Buffer.from(encoded, 'base64url');
  if (body.length !== BODY_BYTES || body.toString('base64url') !== encoded) {
    throw new TokenFormatError('auth_token is not canonically encoded');
  }
  const crc = body.readUInt32BE(SLOT_BYTES + SECRET_BYTES);
  if (crc32(body.subarray(0, SLOT_BYTES + SECRET_BYTES)) !== crc) {
    throw new TokenFormatError('auth_token checksum does not match (is it truncated or mistyped?)');
  }
  return {
    slot: Buffer.from(body.subarray(0, SLOT_BYTES)),
    secret: Buffer.from(body.subarray(SLOT_BYTES, SLOT_BYTES + SECRET_BYTES)),
  };
}

/** Run grants (docs/architecture.md, "Typed profiles, injection and grants"): `avg_` + base64url(id 16 B ‖ secret 32 B ‖ CRC32 4 B), like an auth token. */
export const GRANT_PREFIX = 'avg_';
export const GRANT_ID_BYTES = 16;
/** `avg_` + 70 base64url characters. */
export const GRANT_LENGTH = GRANT_PREFIX.length + Math.ceil((BODY_BYTES * 4) / 3);

export interface ParsedGrant {
  /** Names the grant item. */
  readonly id: Buffer;
  /** 256 random bits: the root of the key that unwraps the grant's key material. Never stored. */
  readonly secret: Buffer;
}

/** A fresh run grant: random id and secret. */
export function newGrant(): { grant: string; id: Buffer; secret: Buffer } {
  const id = randomBytes(GRANT_ID_BYTES);
  const secret = randomBytes(SECRET_BYTES);
  return { grant: GRANT_PREFIX + formatToken(id, secret).slice(TOKEN_PREFIX.length), id, secret };
}

/** True if `s` looks like a run grant (prefix only; parseGrant checks the rest). */
export const isGrant = (s: string | undefined): boolean => s?.startsWith(GRANT_PREFIX) === true;

/** Parses a run grant by position, with the same checks as an auth token (prefix, length, canonical base64url, CRC). */
export function parseGrant(grant: string): ParsedGrant {
  if (!grant.startsWith(GRANT_PREFIX)) throw new TokenFormatError('grant must start with "avg_"');
  if (grant.length !== GRANT_LENGTH) throw new TokenFormatError(`grant must be ${GRANT_LENGTH} characters long`);
  try {
    const { slot, secret } = parseToken(TOKEN_PREFIX + grant.slice(GRANT_PREFIX.length));
    return { id: slot, secret };
  } catch (err) {
    if (err instanceof TokenFormatError) throw new TokenFormatError(err.message.replace('auth_token', 'grant'));
    throw err;
  }
}
