import { createHash, randomBytes } from 'node:crypto';
import { lengthPrefixed } from './encoding.ts';
import { hkdf, hkdfExpand } from './hkdf.ts';

/**
 * The server key ring. Its JSON form (a local file, or a Secrets Manager secret string) is
 *   {"current": "k2", "k1": "<key material>", "k2": "<key material>"}
 * where `current` names the entry new data is written under, and every other string property is
 * a key entry: at least 32 characters of random material (base64url, or any generated password).
 * Entries stay in the ring after a rotation so older blobs still open; rewriting a profile moves
 * it to the current key.
 */
export const SERVER_KEY_ID_BYTES = 8;
const MIN_MATERIAL_CHARS = 32;

/**
 * The roles a server key plays. Each gets its own 32-byte subkey,
 * `subkey = HKDF-Expand(server_key, "agent-vault/subkey/v1" ‖ role, 32)`, so no two roles ever
 * share key material (a verifier HMAC can never double as an extract salt or a seal key). The
 * server key itself is used only to derive these and its id.
 */
export const SUBKEY_ROLES = ['verify', 'profile-extract', 'server-seal', 'mac', 'audit-mac'] as const;
export type SubkeyRole = (typeof SUBKEY_ROLES)[number];

export interface ServerKey {
  /** Entry name in the ring, e.g. `k1`. */
  readonly name: string;
  /** Fixed-width id stored in every blob and on every item. */
  readonly id: Buffer;
  readonly idHex: string;
  /** Verifier HMAC key (docs/architecture.md, "Crypto and tokens": verifier). */
  readonly verifyKey: Buffer;
  /** HKDF-Extract salt of every profile's key root (docs/architecture.md, "Crypto and tokens": keys). */
  readonly profileExtractKey: Buffer;
  /** HKDF PRK of blobs sealed under the server key alone (signing secrets, run results). */
  readonly sealKey: Buffer;
  /** HMAC key of the integrity MACs on agent and API-key items. */
  readonly macKey: Buffer;
  /** HMAC key of the audit records (shared/audit/record.ts; checked by `admin verify-audit`). */
  readonly auditMacKey: Buffer;
}

/** The per-role subkey of a 32-byte server key (exported for tests and the formula in docs/security.md, "Security model"). */
export function deriveSubkey(serverKey: Uint8Array, role: SubkeyRole): Buffer {
  return hkdfExpand(serverKey, lengthPrefixed('agent-vault/subkey/v1', role), 32);
}

export interface ServerKeyRing {
  readonly current: ServerKey;
  /** The key with this id (bytes or hex), or undefined if it has left the ring. */
  byId(id: Uint8Array | string): ServerKey | undefined;
}

export class ServerKeyRingError extends Error {
  override readonly name = 'ServerKeyRingError';
}

function deriveKey(name: string, material: string): ServerKey {
  if (material.length < MIN_MATERIAL_CHARS) {
    throw new ServerKeyRingError(`server key entry "${name}" is shorter than ${MIN_MATERIAL_CHARS} characters`);
  }
  const key = hkdf(Buffer.from('agent-vault/server-key/v1'), Buffer.from(material, 'utf8'), Buffer.from(name), 32);
  const id = createHash('sha256')
    .update('agent-vault/server-key-id/v1')
    .update(key)
    .digest()
    .subarray(0, SERVER_KEY_ID_BYTES);
  return {
    name,
    id: Buffer.from(id),
    idHex: id.toString('hex'),
    verifyKey: deriveSubkey(key, 'verify'),
    profileExtractKey: deriveSubkey(key, 'profile-extract'),
    sealKey: deriveSubkey(key, 'server-seal'),
    macKey: deriveSubkey(key, 'mac'),
    auditMacKey: deriveSubkey(key, 'audit-mac'),
  };
}

/** Parses the JSON form of a key ring; throws ServerKeyRingError without echoing key material. */
export function parseServerKeyRing(json: string): ServerKeyRing {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    throw new ServerKeyRingError('server key ring is not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new ServerKeyRingError('server key ring must be a JSON object');
  }
  const entries = Object.entries(doc as Record<string, unknown>);
  const currentName = (doc as Record<string, unknown>).current;
  if (typeof currentName !== 'string') throw new ServerKeyRingError('server key ring needs a "current" entry name');
  const byHex = new Map<string, ServerKey>();
  for (const [name, material] of entries) {
    if (name === 'current') continue;
    if (typeof material !== 'string') throw new ServerKeyRingError(`server key entry "${name}" must be a string`);
    const k = deriveKey(name, material);
    byHex.set(k.idHex, k);
  }
  const current = [...byHex.values()].find((k) => k.name === currentName);
  if (!current) throw new ServerKeyRingError('server key ring has no entry named by "current"');
  return {
    current,
    byId: (id) => byHex.get(typeof id === 'string' ? id : Buffer.from(id).toString('hex')),
  };
}

/** A new ring with one random entry, in JSON form (what local mode writes on first start). */
export function generateServerKeyRingJson(name = 'k1'): string {
  return `${JSON.stringify({ current: name, [name]: randomBytes(32).toString('base64url') }, null, 2)}\n`;
}

/** Adds a fresh entry and makes it current; older entries stay so existing blobs still open. */
export function rotateServerKeyRingJson(json: string): { json: string; name: string } {
  parseServerKeyRing(json); // validate first
  const doc = JSON.parse(json) as Record<string, string>;
  let n = Object.keys(doc).length;
  while (`k${n}` in doc) n++;
  const name = `k${n}`;
  doc[name] = randomBytes(32).toString('base64url');
  doc.current = name;
  return { json: `${JSON.stringify(doc, null, 2)}\n`, name };
}
