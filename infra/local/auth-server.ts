import { randomBytes } from 'node:crypto';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import Provider, { type Configuration } from 'oidc-provider';

/**
 * A local OAuth 2.0 / OpenID authorization server for trying and testing delegated OAuth
 * (docs/architecture.md, "Delegated OAuth 2.0"): panva's oidc-provider (OpenID Certified) on
 * 127.0.0.1 only, with one confidential client for the vault, S256 PKCE required, refresh-token
 * rotation and RFC 7009 revocation on, and its development login and consent pages (any login).
 * `npm run auth-server` starts one and prints the auth_config to paste; the e2e tests drive it.
 */
export interface LocalAuthServerOptions {
  /** The vault's callback (redirect_uri), e.g. http://127.0.0.1:3000/v1/oauth/callback. */
  readonly redirectUri: string;
  readonly port?: number;
  readonly clientId?: string;
  readonly clientSecret?: string;
  /** Access token lifetime in seconds (the e2e makes them short to see refreshes); default 3600. */
  accessTokenTtl?: number;
}

export interface LocalAuthServer {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly provider: Provider;
  readonly options: LocalAuthServerOptions;
  /** The auth_config of an oauth2_authorization_code profile for this server (return_url to fill in). */
  authConfig(returnUrl: string): Record<string, unknown>;
  close(): Promise<void>;
}

export async function startLocalAuthServer(options: LocalAuthServerOptions): Promise<LocalAuthServer> {
  const clientId = options.clientId ?? 'agent-vault';
  const clientSecret = options.clientSecret ?? randomBytes(24).toString('base64url');
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
    res.writeHead(503);
    res.end();
  };
  const server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;
  const configuration: Configuration = {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [options.redirectUri],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true }, revocation: { enabled: true } },
    rotateRefreshToken: true,
    scopes: ['openid', 'offline_access'],
    ttl: {
      AccessToken: () => options.accessTokenTtl ?? 3600,
      AuthorizationCode: 60,
      Interaction: 600,
      Session: 3600,
      Grant: 14 * 86_400,
      RefreshToken: 14 * 86_400,
      IdToken: 3600,
    },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  };
  const provider = new Provider(issuer, configuration);
  handler = provider.callback();
  return {
    issuer,
    clientId,
    clientSecret,
    provider,
    options,
    authConfig: (returnUrl) => ({
      authorize_url: `${issuer}/auth`,
      token_url: `${issuer}/token`,
      revocation_url: `${issuer}/token/revocation`,
      scopes: ['openid', 'offline_access'],
      // OpenID Connect issues a refresh token for offline_access only with prompt=consent.
      authorize_params: { prompt: 'consent' },
      client_auth: 'basic',
      return_url: returnUrl,
    }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `npm run auth-server [-- <vault base URL>]`: one on 127.0.0.1:4100 for the vault on :3000 by default. */
async function main() {
  const vault = (process.argv[2] ?? process.env.VAULT_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');
  const as = await startLocalAuthServer({ redirectUri: `${vault}/v1/oauth/callback`, port: Number(process.env.AUTH_SERVER_PORT ?? 4100) });
  const profile = {
    name: 'github-style',
    auth_type: 'oauth2_authorization_code',
    auth_config: as.authConfig(`${vault}/healthz`),
    auth_data: { client_id: as.clientId, client_secret: as.clientSecret },
    end_user_id: 'user-1',
    allowed_hosts: [new URL(as.issuer).host],
  };
  process.stdout.write(
    `Local authorization server (oidc-provider, development login: any user name) at ${as.issuer}\n` +
      `Its client for the vault at ${vault}; create a profile with this body (POST /v1/agents/{agent_id}/auth-profiles):\n\n${JSON.stringify(profile, null, 2)}\n\n` +
      `Try the connected account with POST /v1/proxy to ${as.issuer}/me (the provider's userinfo). Ctrl-C stops it.\n`,
  );
  process.once('SIGINT', () => void as.close().then(() => process.exit(0)));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) void main();
