import { randomBytes } from 'node:crypto';
import { openWithServerKey, sealWithServerKey } from '../crypto/server-seal.ts';
import type { ServerKeyRing } from '../crypto/server-key.ts';

/** Prefix of a webhook signing secret (the log masks strings that start with it). */
export const WEBHOOK_SECRET_PREFIX = 'avw_';
const PURPOSE = 'webhook-signing-secret';

/**
 * A new webhook signing secret and its sealed form (server key, with the tenant and webhook id
 * in the AAD: a sealed secret moved to another webhook does not open). Only the sealed form is
 * stored; the secret is answered once.
 */
export function newWebhookSecret(ring: ServerKeyRing, tenant: string, webhookId: string): { secret: string; sealed: Buffer } {
  const secret = WEBHOOK_SECRET_PREFIX + randomBytes(32).toString('base64url');
  return { secret, sealed: sealWithServerKey(ring, PURPOSE, [tenant, webhookId], Buffer.from(secret)) };
}

/** Opens a webhook's signing secret (to sign a delivery). */
export function openWebhookSecret(ring: ServerKeyRing, tenant: string, webhookId: string, sealed: Uint8Array): string {
  return openWithServerKey(ring, PURPOSE, [tenant, webhookId], sealed).toString('utf8');
}
