import { createCipheriv, createDecipheriv, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { request } from 'node:http';
import { FIELDS } from './vault.ts';

/**
 * The floor for the in-process figures: the cryptographic work a request cannot avoid, done
 * with bare node:crypto calls and precomputed inputs (no encodings, no validation, no store).
 *   create: 1 HMAC verifier + HKDF-Extract + per field (HKDF-Expand + AES-256-GCM seal) ×10 + commitment
 *   update: verifier + Extract + commitment check + ×10 (Expand + GCM open) + ×10 (Expand + GCM seal)
 *   run:    verifier + Extract + commitment check + ×10 (Expand + GCM open) + signing-secret open
 *           + webhook signature HMAC + result seal, plus one bare HTTP POST to the same runner
 */
const serverKey = randomBytes(32);
const ONE = Uint8Array.of(1);
const aads = FIELDS.map((f) => Buffer.from(`v1|acme|bench-agent|0123456789abcdef|1|${f}|1`));
const encLabel = Buffer.from('enc/v1');
const commitInfo = Buffer.from('commit/v1|acme|bench-agent|0123456789abcdef|1');
const verifyInput = Buffer.from('verify/v1|acme|bench-agent|0123456789abcdef|1|');
const plaintexts = FIELDS.map(() => randomBytes(30));

const hmac = (key: Uint8Array, ...parts: Uint8Array[]) => {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return h.digest();
};
const expand = (prk: Uint8Array, salt: Uint8Array, aad: Uint8Array) => hmac(prk, encLabel, salt, aad, ONE);

interface Blob {
  salt: Buffer;
  nonce: Buffer;
  ct: Buffer;
  tag: Buffer;
}

function seal(prk: Buffer, aad: Buffer, pt: Uint8Array): Blob {
  const salt = randomBytes(16);
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', expand(prk, salt, aad), nonce, { authTagLength: 16 });
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(pt), c.final()]);
  return { salt, nonce, ct, tag: c.getAuthTag() };
}

function open(prk: Buffer, aad: Buffer, b: Blob): Buffer {
  const d = createDecipheriv('aes-256-gcm', expand(prk, b.salt, aad), b.nonce, { authTagLength: 16 });
  d.setAAD(aad);
  d.setAuthTag(b.tag);
  return Buffer.concat([d.update(b.ct), d.final()]);
}

/** create: fresh secret, verifier, root, 10 sealed fields, commitment. */
export function createFloor(): unknown {
  const secret = randomBytes(32);
  const verifier = hmac(serverKey, verifyInput, secret);
  const prk = hmac(serverKey, secret);
  const fields = aads.map((aad, i) => seal(prk, aad, plaintexts[i] as Buffer));
  return [verifier, hmac(prk, commitInfo, ONE), fields];
}

// A stored profile the update/run floors open.
const storedSecret = randomBytes(32);
const storedPrk = hmac(serverKey, storedSecret);
const stored = {
  verifier: hmac(serverKey, verifyInput, storedSecret),
  commitment: hmac(storedPrk, commitInfo, ONE),
  fields: aads.map((aad, i) => seal(storedPrk, aad, plaintexts[i] as Buffer)),
};
const signingAad = Buffer.from('v1|runner-signing-secret|acme|bench-agent');
const signingBlob = seal(serverKey, signingAad, Buffer.from(`avs_${randomBytes(32).toString('base64url')}`));
const resultAad = Buffer.from('v1|run-result|acme');

function verifyAndOpen(): Buffer[] {
  const v = hmac(serverKey, verifyInput, storedSecret);
  if (!timingSafeEqual(v, stored.verifier)) throw new Error('floor: verifier mismatch');
  const prk = hmac(serverKey, storedSecret);
  if (!timingSafeEqual(hmac(prk, commitInfo, ONE), stored.commitment)) throw new Error('floor: commitment mismatch');
  return aads.map((aad, i) => open(prk, aad, stored.fields[i] as Blob));
}

/** update: verify, open all 10 fields, seal all 10 again. */
export function updateFloor(): unknown {
  const values = verifyAndOpen();
  return aads.map((aad, i) => seal(storedPrk, aad, values[i] as Buffer));
}

/** run, crypto part: verify, open 10 fields, open the signing secret, sign the body, seal the result. */
export function runCryptoFloor(): string {
  const values = verifyAndOpen();
  const signingSecret = open(serverKey, signingAad, signingBlob);
  const sessionId = randomUUID();
  const body = JSON.stringify({
    session_id: sessionId,
    agent_id: 'bench-agent',
    parameters: Object.fromEntries(FIELDS.map((f, i) => [f, (values[i] as Buffer).toString('base64url')])),
    session: null,
  });
  const t = Math.floor(Date.now() / 1000);
  hmac(signingSecret, Buffer.from(`${t}.`), Buffer.from(body));
  seal(serverKey, resultAad, Buffer.from('{"agent_output":"ok"}'));
  return body;
}

/** One bare POST to the runner over Node's global keep-alive agent (the vault's webhook call keeps its connection alive too, shared/outbound/http-client.ts). */
export function postRunner(url: string, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.on('data', () => {});
        res.on('end', () => resolve());
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** run floor: the crypto work plus the runner round trip. */
export async function runFloor(runnerUrl: string): Promise<void> {
  await postRunner(runnerUrl, runCryptoFloor());
}
