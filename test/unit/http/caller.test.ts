import { describe, expect, it } from 'vitest';
import { callerOf } from '#shared/http/caller';
import type { Principal } from '#shared/services/api-keys';
import { apiEvent } from '../handlers/mocked-deps.ts';

const principal: Principal = { tenant: 'acme', keyId: '0123456789abcdef', name: 'ci', role: 'member' };

describe('callerOf', () => {
  it('takes the source IP from the request context, never from X-Forwarded-For', () => {
    const event = apiEvent('GET', '/v1/agents', { headers: { 'x-forwarded-for': '203.0.113.9' } });
    event.requestContext.http.sourceIp = '198.51.100.7';

    const caller = callerOf(event, principal);

    expect(caller.sourceIp).toBe('198.51.100.7');
    expect(caller.tenant).toBe('acme');
    expect(caller.requestId).toBe(event.requestContext.requestId);
  });

  it("carries the key's principal: its id and role", () => {
    const caller = callerOf(apiEvent('GET', '/v1/agents'), principal);

    expect(caller).toMatchObject({ tenant: 'acme', apiKeyId: '0123456789abcdef', role: 'member' });
  });
});
