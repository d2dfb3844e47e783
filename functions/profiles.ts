import { createLambdaWebhookDispatcher } from '#shared/aws/webhook-dispatcher';
import { setWebhookDispatcherFactory } from '#shared/context';
import { vaultBaseUrl } from '#shared/http/base-url';
import { routeGroupHandler } from '#shared/http/handler';
import { redirect } from '#shared/http/pages';
import { created, noContent, ok } from '#shared/http/responses';
import type { GrantProxyBody, ProxyBody } from '#shared/schemas/proxy';
import { listAudit } from '#shared/services/audit';
import * as lifecycle from '#shared/services/lifecycle';
import * as connections from '#shared/services/connections';
import * as profiles from '#shared/services/profiles';
import { proxyRequest, proxyWithGrant, testProfile } from '#shared/services/proxy';
import { shareProfile, unshareProfile } from '#shared/services/sharing';

// A profile delete publishes `profile.deleted`: on AWS its deliveries go to the webhook worker.
setWebhookDispatcherFactory(createLambdaWebhookDispatcher);

/**
 * Auth profiles: the compatible create/upsert endpoints, the native profile endpoints, the proxy
 * and the audit log. Bodies, queries and permissions come from the route table
 * (shared/http/routes.ts): a handler gets them parsed and checked.
 */
export const handler = routeGroupHandler('profiles', {
  'POST /api/create_agent_auth_profile': async ({ deps, caller, body }) => ok(await profiles.createProfile(deps, caller, body)),

  'POST /api/upsert_agent_auth_profile': async ({ deps, caller, body }) => ok(await profiles.upsertProfile(deps, caller, body)),

  'GET /v1/agents/{agent_id}/auth-profiles': async ({ deps, caller, params, query: { limit, cursor, ...filter } }) =>
    ok(await profiles.listProfiles(deps, caller, params.agent_id as string, limit, cursor, filter)),

  'GET /v1/auth-profiles': async ({ deps, caller, query: { limit, cursor, ...filter } }) =>
    ok(await profiles.listTenantProfiles(deps, caller, limit, cursor, filter)),

  'POST /v1/agents/{agent_id}/auth-profiles': async ({ deps, caller, params, body, event }) => {
    const { auth_token, record } = await profiles.createProfileRecord(deps, caller, { ...body, agent_id: params.agent_id as string });
    const link = await connections.connectLinkForNew(deps, record, auth_token, vaultBaseUrl(deps.config, event));
    return created({ auth_token, type: 'create', profile: profiles.toMetadata(record, deps.now()), ...link });
  },

  'PUT /v1/agents/{agent_id}/auth-profiles/{name}': async ({ deps, caller, params, body, event }) => {
    const input = { ...body, agent_id: params.agent_id as string, name: params.name as string };
    const { auth_token, type, record } = await profiles.upsertProfileRecord(deps, caller, input);
    const link = type === 'update' ? {} : await connections.connectLinkForNew(deps, record, auth_token, vaultBaseUrl(deps.config, event));
    return ok({ auth_token, type, profile: profiles.toMetadata(record, deps.now()), ...link });
  },

  'POST /v1/agents/{agent_id}/auth-profiles/{name}/test': async ({ deps, caller, params, body }) =>
    ok(await testProfile(deps, caller, params.agent_id as string, params.name as string, body)),

  // A runner's run grant (Authorization: Bearer avg_…, no API key) or the platform's API key + auth_token.
  'POST /v1/proxy': async ({ deps, caller, body, grant }) =>
    ok(
      grant !== undefined
        ? await proxyWithGrant(deps, caller, grant, body as GrantProxyBody)
        : await proxyRequest(deps, caller, body as ProxyBody),
    ),

  'GET /v1/agents/{agent_id}/auth-profiles/{name}': async ({ deps, target }) => ok(profiles.getProfileMetadata(deps, target)),

  'PATCH /v1/agents/{agent_id}/auth-profiles/{name}': async ({ deps, caller, target, body }) =>
    ok(profiles.toMetadata(await lifecycle.patchProfile(deps, caller, target, body), deps.now())),

  'DELETE /v1/agents/{agent_id}/auth-profiles/{name}': async ({ deps, caller, target, query, body }) => {
    // With the auth token, a connection's refresh token is revoked at the provider first.
    const revoked =
      body.auth_token === undefined ? undefined : await connections.revokeWithToken(deps, caller, target.profile.agent_id, target.profile.name, body.auth_token, 'Deleting this auth profile');
    await lifecycle.deleteProfileChecked(deps, caller, target, query.force);
    const response = noContent();
    if (revoked?.revocation) response.headers['x-revocation'] = revoked.revocation;
    return response;
  },

  'POST /v1/agents/{agent_id}/auth-profiles/{name}/connect': async ({ deps, caller, params, body, event }) =>
    ok(await connections.connectLink(deps, caller, params.agent_id as string, params.name as string, body.auth_token, vaultBaseUrl(deps.config, event))),

  'POST /v1/agents/{agent_id}/auth-profiles/{name}/disconnect': async ({ deps, caller, params, body }) =>
    ok(await connections.disconnectProfile(deps, caller, params.agent_id as string, params.name as string, body.auth_token)),

  // Opened by the end user's browser (no API key): redirects, or an HTML page for any error.
  'GET /v1/oauth/connect': async ({ deps, query, event }) => redirect(await connections.openConnectLink(deps, query.link, vaultBaseUrl(deps.config, event))),

  'GET /v1/oauth/callback': async ({ deps, query, caller }) => redirect(await connections.oauthCallback(deps, query, caller.sourceIp, caller.requestId)),

  'POST /v1/agents/{agent_id}/auth-profiles/{name}/rotate': async ({ deps, caller, params, body }) =>
    ok(await lifecycle.rotateProfile(deps, caller, params.agent_id as string, params.name as string, body)),

  'GET /v1/agents/{agent_id}/auth-profiles/{name}/usage': async ({ deps, target }) => ok(await lifecycle.profileUsage(deps, target)),

  'POST /v1/agents/{agent_id}/auth-profiles/{name}/share': async ({ deps, caller, target, body }) =>
    ok(await shareProfile(deps, caller, target, body)),

  'DELETE /v1/agents/{agent_id}/auth-profiles/{name}/share/{principal}': async ({ deps, caller, target, params }) =>
    ok(await unshareProfile(deps, caller, target, params.principal as string)),

  'GET /v1/audit': async ({ deps, caller, query }) => ok(await listAudit(deps, caller, query)),
});
