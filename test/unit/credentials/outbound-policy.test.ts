import { describe, expect, it } from 'vitest';
import { AllowedHosts, AllowedPathPrefixes, assertOutboundAllowed, canonicalHostPattern, hostAllowed, parseOutboundUrl, pathAllowed } from '#shared/credentials/outbound-policy';
import { ForbiddenError, MethodRefusedError, ValidationError } from '#shared/errors';

const u = (s: string) => new URL(s);

describe('canonicalHostPattern', () => {
  it.each([
    ['API.Example.com', 'api.example.com'],
    ['api.example.com.', 'api.example.com'],
    ['*.example.com', '*.example.com'],
    ['127.0.0.1:8080', '127.0.0.1:8080'],
    ['[::1]', '[::1]'],
    ['[0:0::1]:443', '[::1]:443'],
    ['0x7f.0.0.1', '127.0.0.1'],
  ])('canonicalises %s to %s', (input, expected) => {
    expect(canonicalHostPattern(input)).toBe(expected);
  });

  it.each(['https://x.com', 'x.com/path', 'a b', '*.1.2.3.4', 'x.com:99999', 'user@x.com', '*', '*.', ''])('refuses %j', (input) => {
    expect(canonicalHostPattern(input)).toBeUndefined();
  });

  it('AllowedHosts says which entry is wrong', () => {
    const r = AllowedHosts.safeParse(['ok.example.com', 'https://bad']);
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toContain('"https://bad" is not a host name');
    expect(AllowedHosts.safeParse([]).success).toBe(false);
  });
});

describe('hostAllowed', () => {
  it('matches exact hosts on any port when the pattern has none', () => {
    expect(hostAllowed(['api.example.com'], u('https://API.example.com./x'))).toBe(true);
    expect(hostAllowed(['api.example.com'], u('https://api.example.com:8443/x'))).toBe(true);
    expect(hostAllowed(['api.example.com'], u('https://evil.com/api.example.com'))).toBe(false);
    expect(hostAllowed(['api.example.com'], u('https://api.example.com.evil.com/'))).toBe(false);
  });

  it('matches the port when the pattern names one, with the scheme\'s default port', () => {
    expect(hostAllowed(['127.0.0.1:8080'], u('http://127.0.0.1:8080/'))).toBe(true);
    expect(hostAllowed(['127.0.0.1:8080'], u('http://127.0.0.1:8081/'))).toBe(false);
    expect(hostAllowed(['api.example.com:443'], u('https://api.example.com/'))).toBe(true);
    expect(hostAllowed(['api.example.com:443'], u('http://api.example.com/'))).toBe(false);
  });

  it('matches subdomains only for a wildcard', () => {
    expect(hostAllowed(['*.example.com'], u('https://a.b.example.com/'))).toBe(true);
    expect(hostAllowed(['*.example.com'], u('https://example.com/'))).toBe(false);
    expect(hostAllowed(['*.example.com'], u('https://badexample.com/'))).toBe(false);
  });

  it('compares IPs in canonical form (decimal, hex and IPv6 spellings)', () => {
    expect(hostAllowed(['127.0.0.1'], u('http://2130706433/'))).toBe(true);
    expect(hostAllowed(['[::1]'], u('http://[0:0:0:0:0:0:0:1]/'))).toBe(true);
    expect(hostAllowed(['10.0.0.1'], u('http://127.0.0.1/'))).toBe(false);
  });
});

describe('pathAllowed', () => {
  it('matches prefixes on segment boundaries', () => {
    expect(pathAllowed(['/v1'], '/v1')).toBe(true);
    expect(pathAllowed(['/v1'], '/v1/items')).toBe(true);
    expect(pathAllowed(['/v1'], '/v10')).toBe(false);
    expect(pathAllowed(['/v1/'], '/v1/items')).toBe(true);
    expect(pathAllowed(['/v1/'], '/v1')).toBe(false);
  });

  it('AllowedPathPrefixes refuses ";" and "%25", which no allowed path may hold', () => {
    const r = AllowedPathPrefixes.safeParse(['/v1;x', '/v1/%25']);
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path)).toEqual([[0], [1]]);
    expect(r.error?.issues[0]?.message).toContain('must not contain ";" or "%25"');
  });

  it('AllowedPathPrefixes refuses dot segments and encoded slashes', () => {
    expect(AllowedPathPrefixes.safeParse(['/v1/../admin']).success).toBe(false);
    expect(AllowedPathPrefixes.safeParse(['/v1%2Fadmin']).success).toBe(false);
    expect(AllowedPathPrefixes.safeParse(['v1']).success).toBe(false);
    expect(AllowedPathPrefixes.safeParse(['/v1', '/v2/']).success).toBe(true);
  });
});

describe('assertOutboundAllowed', () => {
  const policy = { allowed_hosts: ['api.example.com'], allowed_path_prefixes: ['/v1'], allowed_methods: ['GET', 'POST'] };
  const refusal = (fn: () => void) => {
    try {
      fn();
    } catch (err) {
      return err as ForbiddenError;
    }
    throw new Error('expected a refusal');
  };

  it('allows a request inside the policy', () => {
    expect(() => assertOutboundAllowed(policy, 'p', 'GET', u('https://api.example.com/v1/items?x=1'))).not.toThrow();
  });

  it('refuses a profile without allowed_hosts with 403 proxy_not_configured', () => {
    const err = refusal(() => assertOutboundAllowed({}, 'p', 'GET', u('https://api.example.com/v1')));
    expect(err).toBeInstanceOf(ForbiddenError);
    expect(err.code).toBe('proxy_not_configured');
  });

  it('refuses a method outside allowed_methods with 405', () => {
    const err = refusal(() => assertOutboundAllowed(policy, 'p', 'DELETE', u('https://api.example.com/v1')));
    expect(err).toBeInstanceOf(MethodRefusedError);
    expect(err.status).toBe(405);
    expect(err.message).toContain('GET, POST');
  });

  it('refuses another host with 403 host_not_allowed', () => {
    const err = refusal(() => assertOutboundAllowed(policy, 'p', 'GET', u('https://evil.example.net/v1')));
    expect(err.status).toBe(403);
    expect(err.code).toBe('host_not_allowed');
  });

  it('refuses a path outside the prefixes, also after dot-segment tricks and encoded slashes', () => {
    for (const url of ['https://api.example.com/admin', 'https://api.example.com/v1/../admin', 'https://api.example.com/v1/%2e%2e/admin', 'https://api.example.com/v1%2F..%2Fadmin', 'https://api.example.com/v10']) {
      const err = refusal(() => assertOutboundAllowed(policy, 'p', 'GET', u(url)));
      expect(err.code, url).toBe('path_not_allowed');
    }
  });

  it.each([
    ['a ";" dot segment', 'https://api.example.com/v1/..;/admin'],
    ['a ";" parameter', 'https://api.example.com/v1/items;jsessionid=x'],
    ['a ";" in the last segment', 'https://api.example.com/v1;'],
    ['an encoded "%" (%25)', 'https://api.example.com/v1/%252e%252e/admin'],
    ['a lower-case encoded "%" (%25 any case)', 'https://api.example.com/v1/a%25/b'],
  ])('refuses a path under the prefixes that holds %s with 403 path_not_allowed, saying why', (_, url) => {
    const err = refusal(() => assertOutboundAllowed(policy, 'p', 'GET', u(url)));
    expect(err).toBeInstanceOf(ForbiddenError);
    expect(err.code).toBe('path_not_allowed');
    expect(err.message).toMatch(/";" \(path parameters\)|"%25" \(an encoded "%"\)/);
    expect(err.message).toContain('may decode into another path');
  });

  it('leaves ";" and "%25" alone when the profile sets no allowed_path_prefixes', () => {
    expect(() => assertOutboundAllowed({ allowed_hosts: ['api.example.com'] }, 'p', 'GET', u('https://api.example.com/a;b/%25'))).not.toThrow();
  });

  it('allows every method and path when those lists are absent', () => {
    expect(() => assertOutboundAllowed({ allowed_hosts: ['api.example.com'] }, 'p', 'PATCH', u('https://api.example.com/anything'))).not.toThrow();
  });
});

describe('parseOutboundUrl', () => {
  it('refuses non-http schemes, credentials, and http when https is required', () => {
    expect(() => parseOutboundUrl('file:///etc/passwd', false)).toThrow(ValidationError);
    expect(() => parseOutboundUrl('not a url', false)).toThrow(ValidationError);
    expect(() => parseOutboundUrl('https://u:p@api.example.com/', false)).toThrow(/must not contain credentials/);
    expect(() => parseOutboundUrl('http://api.example.com/', true)).toThrow(/https/);
    expect(parseOutboundUrl('http://api.example.com/a#frag', false).href).toBe('http://api.example.com/a');
  });
});
