import type { Caller } from '../deps.ts';
import { apiKeyIdOf } from '../services/api-keys.ts';
import type { VaultEvent } from './middleware.ts';

/**
 * The request's Caller, built once after authentication. The source IP is API Gateway's
 * `requestContext.http.sourceIp` (the TCP peer it saw; the local adapter sets the socket's
 * address) — never X-Forwarded-For, which any client can write.
 */
export function callerOf(event: VaultEvent, tenant: string, apiKey: string): Caller {
  return {
    tenant,
    apiKeyId: apiKeyIdOf(apiKey),
    sourceIp: event.requestContext?.http?.sourceIp,
    requestId: event.requestContext?.requestId,
  };
}
