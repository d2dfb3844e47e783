/**
 * Shared builders for the crypto unit tests: deterministic key rings, bindings and secrets, and a
 * helper that captures a thrown error so a test can assert on its type and message.
 */
import { createHash } from 'node:crypto';
import { type ProfileBinding, ProfileKeys } from '../../../shared/credentials/profile-keys.ts';
import { type ServerKeyRing, parseServerKeyRing } from '../../../shared/crypto/server-key.ts';

/** Deterministic key material (≥ 32 characters) so failures reproduce. */
export function material(label: string): string {
  return createHash('sha256').update(`test-material/${label}`).digest('base64url');
}

/** A one-entry ring `{"current": name, name: material(label)}`. */
export function ringJson(label = 'a', name = 'k1'): string {
  return JSON.stringify({ current: name, [name]: material(label) });
}

export function ring(label = 'a', name = 'k1'): ServerKeyRing {
  return parseServerKeyRing(ringJson(label, name));
}

/** 32 deterministic bytes for a token secret. */
export function secretOf(label: string): Buffer {
  return createHash('sha256').update(`test-secret/${label}`).digest();
}

/** 16 deterministic bytes for a slot. */
export function slotOf(label: string): Buffer {
  return createHash('sha256').update(`test-slot/${label}`).digest().subarray(0, 16);
}

export function binding(overrides: Partial<ProfileBinding> = {}): ProfileBinding {
  return { tenant: 'tenant-1', agentId: 'agent-1', slot: slotOf('profile-1'), generation: 1, ...overrides };
}

/** Runs `fn` and returns what it threw; fails the test if it returned normally. */
export function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    if (err instanceof Error) return err;
    throw new Error(`threw a non-Error: ${String(err)}`);
  }
  throw new Error('expected the call to throw, but it returned');
}

/** Every substring of `s` of length `n`: used to check that messages echo no part of a secret. */
export function windows(s: string, n = 8): string[] {
  const out: string[] = [];
  for (let i = 0; i + n <= s.length; i++) out.push(s.slice(i, i + n));
  return out;
}

/** True when `message` contains any `n`-character window of `secret`. */
export function echoes(message: string, secret: string, n = 8): boolean {
  return windows(secret, n).some((w) => message.includes(w));
}

const AAD_KEY = parseServerKeyRing(JSON.stringify({ current: 'aad', aad: createHash('sha256').update('test-material/aad').digest('base64url') })).current;

/** The AAD a profile value is sealed with, as ProfileKeys builds it (the key material does not enter it). */
export function valueAad(b: ProfileBinding, field: string, recordVersion: number): Buffer {
  return new ProfileKeys(AAD_KEY, b, Buffer.alloc(32)).aad(field, recordVersion);
}
