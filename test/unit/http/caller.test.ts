import { describe, expect, it } from 'vitest';
import { callerOf } from '#shared/http/caller';
import { hashApiKey } from '#shared/services/api-keys';
import { apiEvent } from '../handlers/mocked-deps.ts';

describe('callerOf', () => {
  it('takes the source IP from the request context, never from X-Forwarded-For', () => {
    const event = apiEvent('GET', '/v1/agents', { headers: { 'x-forwarded-for': '203.0.113.9' } });
    event.requestContext.http.sourceIp = '198.51.100.7';

    const caller = callerOf(event, 'acme', 'avk_key');

    expect(caller.sourceIp).toBe('198.51.100.7');
    expect(caller.tenant).toBe('acme');
    expect(caller.requestId).toBe(event.requestContext.requestId);
  });

  it('identifies the API key by a short prefix of its hash, never the key', () => {
    const caller = callerOf(apiEvent('GET', '/v1/agents'), 'acme', 'avk_secret-key');

    expect(caller.apiKeyId).toBe(hashApiKey('avk_secret-key').slice(0, 16));
    expect(JSON.stringify(caller)).not.toContain('secret-key');
  });
});
