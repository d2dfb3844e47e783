import { describe, expect, it } from 'vitest';
import { handler } from '#functions/meta';
import { documentedRoutes as routes } from '#shared/http/route-docs';
import { apiEvent, invoke, useMockedVault } from './mocked-deps.ts';

const v = useMockedVault();

describe('meta handler', () => {
  it('serves the OpenAPI document for every route without touching the table', async () => {
    const res = await invoke(handler, apiEvent('GET', '/openapi.json'));

    expect(res.statusCode).toBe(200);
    expect(res.json.openapi).toBe('3.1.0');
    expect(Object.keys(res.json.paths).sort()).toEqual([...new Set(routes.filter((r) => r.op !== undefined).map((r) => r.path))].sort());
    expect(v.ddb.calls()).toHaveLength(0);
  });

  it('answers /healthz with ok', async () => {
    const res = await invoke(handler, apiEvent('GET', '/healthz'));

    expect(res.json).toEqual({ status: 'ok' });
  });

  it('answers the $default route with a JSON 405 and Allow for a known path', async () => {
    const res = await invoke(handler, apiEvent('GET', '/api/upsert_agent_auth_profile'));

    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe('POST');
    expect(res.json.error.code).toBe('method_not_allowed');
  });

  it('answers the $default route with a JSON 404 for an unknown path', async () => {
    const res = await invoke(handler, apiEvent('POST', '/admin'));

    expect(res.statusCode).toBe(404);
    expect(res.json.error.code).toBe('route_not_found');
  });
});

describe('meta handler: the console', () => {
  it('redirects /console to /console/ so relative asset URLs resolve', async () => {
    const res = await invoke(handler, apiEvent('GET', '/console'));

    expect(res.statusCode).toBe(308);
    expect(res.headers.location).toBe('/console/');
  });

  it('serves index.html at /console/ (reached through $default) with the security headers', async () => {
    const event = apiEvent('GET', '/console/');
    expect(event.routeKey).toBe('$default');

    const res = await invoke(handler, event);

    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.text).toContain('<script type="module" src="app.js"></script>');
    expect(res.headers['content-security-policy']).toMatch(/default-src 'self'.*script-src 'self'.*frame-ancestors 'none'/);
    expect(res.headers['content-security-policy']).not.toContain('unsafe');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(v.ddb.calls()).toHaveLength(0);
  });

  it('serves the bundled script and stylesheet with their types', async () => {
    const js = await invoke(handler, apiEvent('GET', '/console/app.js'));
    const css = await invoke(handler, apiEvent('GET', '/console/app.css'));

    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
  });

  it('answers 304 to a matching If-None-Match', async () => {
    const first = await invoke(handler, apiEvent('GET', '/console/app.js'));
    const res = await invoke(handler, apiEvent('GET', '/console/app.js', { headers: { 'if-none-match': first.headers.etag as string } }));

    expect(res.statusCode).toBe(304);
    expect(res.text).toBe('');
  });

  it.each(['/console/nope.js', '/console/__proto__', '/console/constructor', '/console/toString'])('answers a JSON 404 for %s', async (path) => {
    const res = await invoke(handler, apiEvent('GET', path));

    expect(res.statusCode).toBe(404);
    expect(res.json.error.code).toBe('route_not_found');
  });
});
