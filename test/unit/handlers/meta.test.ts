import { describe, expect, it } from 'vitest';
import { handler } from '#functions/meta';
import { routes } from '#shared/http/routes';
import { apiEvent, invoke, useMockedVault } from './mocked-deps.ts';

const v = useMockedVault();

describe('meta handler', () => {
  it('serves the OpenAPI document for every route without touching the table', async () => {
    const res = await invoke(handler, apiEvent('GET', '/openapi.json'));

    expect(res.statusCode).toBe(200);
    expect(res.json.openapi).toBe('3.1.0');
    expect(Object.keys(res.json.paths).sort()).toEqual([...new Set(routes.map((r) => r.path))].sort());
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
