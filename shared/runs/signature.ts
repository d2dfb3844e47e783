import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures. The vault sends
 *   X-Agent-Vault-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + raw body)>
 * This file has no imports beyond node:crypto so a runner can copy it as it is.
 */
export const SIGNATURE_HEADER = 'x-agent-vault-signature';

export function signPayload(secret: string, rawBody: string, unixSeconds: number): string {
  // t + "." + body, fed in two parts: the body is not copied into a second string.
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.`).update(rawBody).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/**
 * Verifies a signature header against the raw request body (the exact bytes received, before
 * any JSON parsing). Rejects a timestamp more than `toleranceSeconds` away from now (replay).
 */
export function verifySignature(
  secret: string,
  rawBody: string,
  header: string | undefined,
  { toleranceSeconds = 300, nowSeconds = Math.floor(Date.now() / 1000) } = {},
): boolean {
  if (!header) return false;
  let t: number | undefined;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const [k, v] = part.trim().split('=', 2);
    if (k === 't' && v && /^\d{1,12}$/.test(v)) t = Number(v);
    if (k === 'v1' && v && /^[0-9a-f]{64}$/.test(v)) candidates.push(v);
  }
  if (t === undefined || candidates.length === 0 || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${rawBody}`).digest('hex'));
  return candidates.some((c) => timingSafeEqual(Buffer.from(c), expected));
}
