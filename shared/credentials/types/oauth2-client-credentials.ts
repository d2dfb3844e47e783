import * as z from '../../schemas/zod.ts';
import { ValidationError } from '../../errors.ts';
import { tokenUrlRefusal } from '../oauth2/token-endpoint.ts';
import { type AuthTypeModule, injectHeaders, injected } from './types.ts';

/**
 * oauth2_client_credentials: auth_data `{client_id, client_secret}` (sealed); auth_config
 * `{token_url, scope?, client_auth: basic | post}` in clear. The vault fetches an access token from
 * token_url (RFC 6749 §4.4) and injects it as a bearer token: `injection: 'access_token'` makes
 * the proxy get one from shared/credentials/oauth2/access-token.ts (cached sealed, single-flight
 * refresh) and hand it to `inject`.
 */
export { OAuth2Config } from '../../schemas/auth-config.ts';
import { OAuth2Config } from '../../schemas/auth-config.ts';

export const OAuth2Secret = z.strictObject({ client_id: z.string(), client_secret: z.string() });

export const oauth2ClientCredentials: AuthTypeModule<z.infer<typeof OAuth2Config>> = {
  name: 'oauth2_client_credentials',
  config: OAuth2Config,
  schemaFor: () => OAuth2Secret,
  injection: 'access_token',
  // The schema allows http (local mode: loopback token servers); deployed, the client secret
  // goes only to https. Checked again before every fetch (oauth2/access-token.ts).
  assertDeployable: (config, deployment) => {
    const refused = tokenUrlRefusal(config.token_url, deployment.httpsOnly);
    if (refused) throw new ValidationError(`Invalid auth_config for auth_type oauth2_client_credentials: auth_config.${refused}`);
  },
  runParameters: (secret) => ({ ...secret }),
  /** `secret` is `{access_token}` from the token fetch here, not the stored client secret. */
  inject: (request, secret) => injected(injectHeaders(request, { authorization: `Bearer ${secret.access_token ?? ''}` })),
  secretValues: (secret) => [...Object.values(secret), ...(secret.access_token ? [`Bearer ${secret.access_token}`] : [])],
};
