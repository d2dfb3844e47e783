import * as z from '../../schemas/zod.ts';
import { ValidationError } from '../../errors.ts';
import { type AuthTypeModule, type Deployment, injectHeaders, injected } from './types.ts';

/**
 * oauth2_authorization_code (docs/architecture.md, "Delegated OAuth 2.0"): an end user connects
 * their account. auth_data `{client_id, client_secret?}` (sealed; no secret for a public client,
 * `client_auth: none`, which PKCE protects); auth_config in clear, covered by the store's MAC. The
 * connect flow (shared/credentials/oauth2/connection.ts) obtains a refresh token sealed under the
 * profile's keys; uses inject the access token (`injection: 'access_token'`, refreshed under the
 * single-flight lease of shared/credentials/oauth2/access-token.ts), runs get only the access token.
 */

// The config schema lives with the other auth_config schemas, for the OpenAPI document.
export { OAuth2AuthorizationCodeConfig } from '../../schemas/auth-config.ts';
import { OAuth2AuthorizationCodeConfig } from '../../schemas/auth-config.ts';

const PublicClientSecret = z.strictObject({ client_id: z.string().check(z.minLength(1)) });
const ConfidentialClientSecret = z.strictObject({
  client_id: z.string().check(z.minLength(1)),
  client_secret: z.string().check(z.minLength(1)),
});

const isHttps = (u: string) => URL.canParse(u) && new URL(u).protocol === 'https:';

/**
 * Why the vault may not send an end user to `returnUrl`, or undefined. Deployed: https, and its
 * host in VAULT_ALLOWED_RETURN_HOSTS (none listed: none allowed). Locally: any host unless a list
 * is set. Checked when the profile is written and again before every redirect (a stored item may
 * come from local mode or a table writer).
 */
export function returnUrlRefusal(returnUrl: string, deployment: Deployment): string | undefined {
  if (!URL.canParse(returnUrl)) return 'return_url is not a URL';
  const url = new URL(returnUrl);
  if (deployment.httpsOnly && url.protocol !== 'https:') return 'return_url must use https in deployed mode';
  const host = url.hostname.toLowerCase().replace(/\.+$/, '');
  const allowed = deployment.allowedReturnHosts ?? [];
  if (deployment.httpsOnly && allowed.length === 0)
    return `return_url host "${host}" is not allowed: the vault's operator lists the hosts end users may return to in VAULT_ALLOWED_RETURN_HOSTS`;
  if (allowed.length > 0 && !allowed.includes(host)) return `return_url host "${host}" is not allowed (allowed: ${allowed.join(', ')})`;
  return undefined;
}

/** Why this config may not be used where the vault runs (https everywhere when deployed, an allowed return host), or undefined. */
export function configRefusal(config: OAuth2AuthorizationCodeConfig, deployment: Deployment): string | undefined {
  if (deployment.httpsOnly) {
    for (const field of ['authorize_url', 'token_url', 'revocation_url'] as const) {
      const u = config[field];
      if (u !== undefined && !isHttps(u))
        return `${field} must use https in deployed mode: the vault sends codes, tokens and client credentials only over TLS`;
    }
  }
  return returnUrlRefusal(config.return_url, deployment);
}

export const oauth2AuthorizationCode: AuthTypeModule<OAuth2AuthorizationCodeConfig> = {
  name: 'oauth2_authorization_code',
  config: OAuth2AuthorizationCodeConfig,
  schemaFor: (config) => (config.client_auth === 'none' ? PublicClientSecret : ConfidentialClientSecret),
  injection: 'access_token',
  assertDeployable: (config, deployment) => {
    const refused = configRefusal(config, deployment);
    if (refused) throw new ValidationError(`Invalid auth_config for auth_type oauth2_authorization_code: auth_config.${refused}`);
  },
  /** `secret` is `{access_token}` from the vault's token fetch: a runner never gets the refresh token or the client secret. */
  runParameters: (secret) => ({ access_token: secret.access_token ?? '' }),
  runsWith: 'access_token',
  inject: (request, secret) => injected(injectHeaders(request, { authorization: `Bearer ${secret.access_token ?? ''}` })),
  secretValues: (secret) => [...Object.values(secret), ...(secret.access_token ? [`Bearer ${secret.access_token}`] : [])],
};
