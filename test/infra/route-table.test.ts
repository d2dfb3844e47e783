/**
 * The route table (shared/http/routes.ts) is the one place a route exists: its permission, its
 * schemas, its OpenAPI operation and — checked by the compiler — its handler.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { documentedRoutes } from '#shared/http/route-docs';
import { routeList } from '#shared/http/routes';

describe('route table', () => {
  it('fails the typecheck of a route group that leaves a route of the table without a handler', () => {
    const dir = mkdtempSync(join(process.cwd(), 'test', '.route-table-'));
    try {
      // The keys group with one of its three routes missing.
      writeFileSync(
        join(dir, 'missing.ts'),
        "import { routeGroupHandler } from '#shared/http/handler';\n" +
          "import { ok } from '#shared/http/responses';\n" +
          "export const handler = routeGroupHandler('keys', {\n" +
          "  'POST /v1/api-keys': async () => ok({}),\n" +
          "  'GET /v1/api-keys': async () => ok({}),\n" +
          '});\n',
      );
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ extends: '../../tsconfig.json', include: ['missing.ts', '../../console/build.ts'] }));
      const tsc = spawnSync(process.execPath, [join('node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8', timeout: 120_000 });
      expect(tsc.status).not.toBe(0);
      expect(tsc.stdout).toContain('DELETE /v1/api-keys/{key_id}');
      expect(tsc.stdout).toContain('Handlers<"keys">');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives every route but the public meta ones and the browser steps of the OAuth connect flow a permission that needs the caller', () => {
    // An end user's browser opens the connect link and comes back to the callback: no API key;
    // the link's and the state's own secrets are the capability (shared/credentials/oauth2/connection.ts).
    const browserRoutes = ['GET /v1/oauth/connect', 'GET /v1/oauth/callback'];
    for (const r of routeList) {
      if (r.group === 'meta' || browserRoutes.includes(r.key)) expect(r.permission.kind, r.key).toBe('public');
      else expect(r.permission.kind, r.key).not.toBe('public');
    }
    expect(routeList.filter((r) => r.answers === 'html').map((r) => r.key)).toEqual(browserRoutes);
  });

  it("checks the agent's owner on every change to an agent", () => {
    const agentWrites = routeList.filter((r) => r.path.startsWith('/v1/agents/{agent_id}') && !r.path.includes('/auth-profiles') && r.method !== 'GET');
    expect(agentWrites.map((r) => r.key).sort()).toEqual(['DELETE /v1/agents/{agent_id}', 'POST /v1/agents/{agent_id}/rotate-signing-secret', 'PUT /v1/agents/{agent_id}']);
    for (const r of agentWrites) expect(r.permission.kind, r.key).toBe('agent_owner');
  });

  it('checks access to the named profile on every route that names one, read_write on every change', () => {
    for (const r of routeList.filter((x) => x.path.includes('{name}'))) {
      const p = r.permission;
      expect(['profile', 'credential'], r.key).toContain(p.kind);
      if ((p.kind === 'profile' || p.kind === 'credential') && r.method !== 'GET' && !r.path.endsWith('/test')) expect(p.need, r.key).toBe('read_write');
    }
  });

  it('keeps API-key management for admins', () => {
    for (const r of routeList.filter((x) => x.group === 'keys')) expect(r.permission.kind, r.key).toBe('admin');
  });

  it('keeps webhook management for admins, in its own function', () => {
    const webhookRoutes = routeList.filter((x) => x.path.startsWith('/v1/webhooks'));
    expect(webhookRoutes).toHaveLength(8);
    for (const r of webhookRoutes) {
      expect(r.group, r.key).toBe('webhooks');
      expect(r.permission.kind, r.key).toBe('admin');
    }
  });

  it('documents every route but the console with a unique operationId', () => {
    const ids = documentedRoutes.filter((r) => r.op).map((r) => r.op?.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(documentedRoutes.map((r) => r.key)).toEqual(routeList.map((r) => r.key));
    expect(documentedRoutes.filter((r) => !r.op).map((r) => r.key)).toEqual(['GET /console', 'GET /console/{asset}']);
  });
});
