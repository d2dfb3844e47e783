import type { Caller } from '../deps.ts';
import type { Principal } from '../services/api-keys.ts';
import type { VaultEvent } from './middleware.ts';

/**
 * The request's Caller, built once after authentication from the key's principal. The source IP
 * is API Gateway's `requestContext.http.sourceIp` (the TCP peer it saw; the local adapter sets
 * the socket's address) — never X-Forwarded-For, which any client can write.
 */
export function callerOf(event: VaultEvent, principal: Principal): Caller {
  return {
    tenant: principal.tenant,
    apiKeyId: principal.keyId,
    role: principal.role,
    sourceIp: event.requestContext?.http?.sourceIp,
    requestId: event.requestContext?.requestId,
  };
}
