import { createHash, randomBytes } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A loopback OAuth 2.0 authorization server for integration tests of the connect flow: it
 * consents at once (GET /authorize redirects straight back with a code, the state and `iss`),
 * checks S256 PKCE and the exact redirect_uri at the token endpoint, rotates refresh tokens
 * (the old one dies), and revokes (RFC 7009). It counts what it was asked, so tests can assert
 * "one refresh request" and "the next refresh used the new refresh token". The reference server
 * (oidc-provider) is driven end to end in test/e2e/delegated-oauth.e2e.test.ts.
 */
export interface AuthServerBehaviour {
  /** Seconds the access tokens live. */
  expiresIn: number;
  /** Milliseconds the token endpoint waits before answering (lets parallel uses pile up). */
  delayMs: number;
  /** Issue a new refresh token on every refresh (the old one dies). */
  rotate: boolean;
  /** The `iss` the authorize redirect names (RFC 9207); undefined: none. */
  iss?: string;
  /** Answer the authorize request with this error instead of a code. */
  authorizeError?: string;
  /** Answer token requests with this status and body instead. */
  tokenFailure?: { status: number; body: unknown };
}

export interface TokenCall {
  readonly grant_type: string;
  readonly form: Record<string, string>;
  readonly authorization?: string;
}

export interface AuthServer {
  readonly url: string;
  readonly host: string;
  readonly behaviour: AuthServerBehaviour;
  readonly tokenCalls: TokenCall[];
  readonly revoked: string[];
  /** Each token and revocation request, in order: its path and the TCP connection it came over (an index of `connections`). */
  readonly endpointCalls: { path: string; connection: number }[];
  /** Every TCP connection the server accepted, in order. */
  readonly connections: Socket[];
  /** Refresh tokens currently valid. */
  readonly liveRefreshTokens: Set<string>;
  /** Every token the server ever issued (the leak canary looks for them). */
  readonly issued: string[];
  /** Marks every refresh token dead (the user revoked the app at the provider). */
  revokeAll(): void;
  close(): Promise<void>;
}

export async function startAuthServer(overrides: Partial<AuthServerBehaviour> = {}): Promise<AuthServer> {
  const behaviour: AuthServerBehaviour = { expiresIn: 3600, delayMs: 0, rotate: true, ...overrides };
  const tokenCalls: TokenCall[] = [];
  const revoked: string[] = [];
  const endpointCalls: AuthServer['endpointCalls'] = [];
  const connections: Socket[] = [];
  const live = new Set<string>();
  const issued: string[] = [];
  const codes = new Map<string, { challenge: string; redirectUri: string; clientId: string; scope: string }>();
  const mint = (kind: string) => {
    const t = `${kind}-${randomBytes(12).toString('hex')}`;
    issued.push(t);
    return t;
  };
  const readBody = async (req: IncomingMessage) => {
    let body = '';
    for await (const c of req) body += c;
    return body;
  };
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === '/authorize') {
      const q = url.searchParams;
      const back = new URL(q.get('redirect_uri') ?? 'http://invalid/');
      back.searchParams.set('state', q.get('state') ?? '');
      if (behaviour.iss !== undefined) back.searchParams.set('iss', behaviour.iss);
      if (behaviour.authorizeError) back.searchParams.set('error', behaviour.authorizeError);
      else if (q.get('response_type') !== 'code' || q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge'))
        back.searchParams.set('error', 'invalid_request');
      else {
        const code = mint('code');
        codes.set(code, {
          challenge: q.get('code_challenge') ?? '',
          redirectUri: q.get('redirect_uri') ?? '',
          clientId: q.get('client_id') ?? '',
          scope: q.get('scope') ?? '',
        });
        back.searchParams.set('code', code);
      }
      res.writeHead(302, { location: back.toString() });
      res.end();
      return;
    }
    const form = Object.fromEntries(new URLSearchParams(await readBody(req)));
    if (req.method === 'POST') endpointCalls.push({ path: url.pathname, connection: connections.indexOf(req.socket) });
    if (req.method === 'POST' && url.pathname === '/token') {
      tokenCalls.push({ grant_type: form.grant_type ?? '', form, authorization: req.headers.authorization });
      if (behaviour.delayMs) await new Promise((r) => setTimeout(r, behaviour.delayMs));
      if (behaviour.tokenFailure) return json(res, behaviour.tokenFailure.status, behaviour.tokenFailure.body);
      const answer = (scope: string) => {
        const refresh = mint('rt');
        live.add(refresh);
        return { access_token: mint('at'), token_type: 'Bearer', expires_in: behaviour.expiresIn, refresh_token: refresh, scope };
      };
      if (form.grant_type === 'authorization_code') {
        const c = codes.get(form.code ?? '');
        codes.delete(form.code ?? '');
        const pkce = createHash('sha256')
          .update(form.code_verifier ?? '')
          .digest('base64url');
        if (!c || c.redirectUri !== form.redirect_uri || c.challenge !== pkce) return json(res, 400, { error: 'invalid_grant' });
        return json(res, 200, answer(c.scope));
      }
      if (form.grant_type === 'refresh_token') {
        const rt = form.refresh_token ?? '';
        if (!live.has(rt)) return json(res, 400, { error: 'invalid_grant', error_description: `refresh token ${rt} is not valid` });
        if (!behaviour.rotate) return json(res, 200, { access_token: mint('at'), token_type: 'Bearer', expires_in: behaviour.expiresIn });
        live.delete(rt);
        return json(res, 200, answer('read'));
      }
      return json(res, 400, { error: 'unsupported_grant_type' });
    }
    if (req.method === 'POST' && url.pathname === '/revoke') {
      revoked.push(form.token ?? '');
      live.delete(form.token ?? '');
      res.writeHead(200);
      res.end();
      return;
    }
    res.writeHead(404);
    res.end();
  });
  server.on('connection', (socket: Socket) => connections.push(socket));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    host: `127.0.0.1:${port}`,
    behaviour,
    tokenCalls,
    revoked,
    endpointCalls,
    connections,
    liveRefreshTokens: live,
    issued,
    revokeAll: () => live.clear(),
    close: () => new Promise((r) => server.close(() => r())),
  };
}
