import { describe, expect, it } from 'vitest';
import { json } from '#shared/http/responses';
import { matchRoute, routeKey, routeList as routes } from '#shared/http/routes';

describe('matchRoute', () => {
  it('matches every route of the table to itself', () => {
    for (const r of routes) {
      const path = r.path.replace(/\{([a-z_]+)\}/g, 'x1');

      const m = matchRoute(r.method, path);

      expect(m && 'route' in m ? routeKey(m.route) : m).toBe(routeKey(r));
    }
  });

  it('decodes path parameters', () => {
    const m = matchRoute('GET', '/v1/agents/crm%3Abot/auth-profiles/main%20login');

    expect(m && 'route' in m ? m.pathParameters : m).toEqual({ agent_id: 'crm:bot', name: 'main login' });
  });

  it('keeps a malformed escape as sent', () => {
    const m = matchRoute('GET', '/v1/agents/bad%zz');

    expect(m && 'route' in m ? m.pathParameters.agent_id : m).toBe('bad%zz');
  });

  it('lists the allowed methods for a known path under another method', () => {
    expect(matchRoute('PATCH', '/v1/agents/x')).toEqual({ allowed: ['GET', 'HEAD', 'PUT', 'DELETE'] });
  });

  it('matches HEAD to the GET route of a path (HEAD is answered wherever GET is)', () => {
    const m = matchRoute('HEAD', '/v1/agents/x');

    expect(m && 'route' in m ? [m.route.method, m.pathParameters.agent_id] : m).toEqual(['GET', 'x']);
    expect(matchRoute('HEAD', '/run_agent')).toEqual({ allowed: ['POST'] });
  });

  it('matches methods case-insensitively', () => {
    const m = matchRoute('post', '/run_agent');

    expect(m && 'route' in m ? routeKey(m.route) : m).toBe('POST /run_agent');
  });

  it('finds nothing for an unknown path', () => {
    expect(matchRoute('GET', '/v1/nothing')).toBeUndefined();
  });

  it('does not let a parameter span path segments', () => {
    expect(matchRoute('GET', '/v1/agents/a/b')).toBeUndefined();
  });

  it('has no two routes with the same method and path', () => {
    const keys = routes.map(routeKey);

    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('json', () => {
  it('answers JSON that is never cached or sniffed', () => {
    const res = json(200, { a: 1 });

    expect(res.headers).toMatchObject({
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    expect(JSON.parse(res.body as string)).toEqual({ a: 1 });
  });
});
