import type * as z from '../../schemas/zod.ts';

/**
 * The per-type seam. Each auth type is one module (types/<name>.ts) that says what its
 * non-secret config and its secret look like (zod schemas) and how it is used: handed to a runner
 * as parameters, or injected into an outbound request. Adding a type = one module + one line in
 * types/index.ts (the exhaustive `authTypes` record makes the compiler ask for it).
 */

import type { AuthTypeName } from '../../schemas/policy.ts';

export { AuthType, type AuthTypeName } from '../../schemas/policy.ts';

/**
 * An outbound HTTP request before the vault sends it (the proxy and "test profile" build one).
 * Header names are lower case; the body is the exact text to send.
 */
export interface OutboundRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** The request with the credential in place, or why this type cannot be placed in a request. */
export type InjectResult =
  | { readonly injectable: true; readonly request: OutboundRequest }
  | { readonly injectable: false; readonly reason: string };

export type Secret = Readonly<Record<string, string>>;

/** Where the vault runs, as far as a type's config rules care (shared/config.ts VaultMode). */
export interface Deployment {
  /** Deployed (VAULT_MODE=aws): credentials go only to https URLs. */
  readonly httpsOnly: boolean;
  /** Hosts an end user may be sent back to after connecting (shared/config.ts allowedReturnHosts). */
  readonly allowedReturnHosts?: readonly string[];
}

/** The deployment rules of a vault mode. */
export const deploymentOf = (config: { readonly mode: 'local' | 'aws'; readonly allowedReturnHosts?: readonly string[] }): Deployment => ({
  httpsOnly: config.mode === 'aws',
  allowedReturnHosts: config.allowedReturnHosts ?? [],
});

export interface AuthTypeModule<Config = Record<string, unknown>> {
  readonly name: AuthTypeName;
  /** Non-secret settings, stored in clear on the profile item (validated on write and on read). */
  readonly config: z.ZodMiniType<Config>;
  /**
   * Rules on the config that depend on where the vault runs, checked on every write once `config`
   * has parsed it (oauth2: an https token_url when deployed). Throws a ValidationError naming the field.
   */
  assertDeployable?(config: Config, deployment: Deployment): void;
  /** The decrypted values of a profile of this type; may depend on the config (api_key names). */
  schemaFor(config: Config): z.ZodMiniType<Record<string, string>>;
  /**
   * How the secret reaches a request: `direct` (inject the stored values), `access_token` (the
   * stored values are exchanged for an access token first, which is what `inject` receives —
   * OAuth2), `none` (custom: only a runner can use it).
   */
  readonly injection: 'direct' | 'access_token' | 'none';
  /**
   * What a runner receives in `parameters` when the credential is delivered to it: the stored
   * values, or (`runsWith: 'access_token'`) `{access_token}` from the vault's token fetch, so a
   * refresh token never leaves the vault.
   */
  runParameters(secret: Secret): Record<string, string>;
  readonly runsWith?: 'access_token';
  /** Pure: the request with the credential injected; the caller's inline auth never survives. */
  inject(request: OutboundRequest, secret: Secret, config: Config): InjectResult;
  /** Every value that must never come back out (the leak guard redacts these and their encodings). */
  secretValues(secret: Secret, config: Config): string[];
}

/** Headers that carry inline auth; a caller's copies are dropped whenever a profile injects. */
export const INLINE_AUTH_HEADERS: readonly string[] = ['authorization', 'proxy-authorization'];

/** A copy of `headers` with lower-case names, without the given names (any letter case). */
export function withoutHeaders(headers: Readonly<Record<string, string>>, names: readonly string[]): Record<string, string> {
  const drop = new Set(names.map((n) => n.toLowerCase()));
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (!drop.has(k.toLowerCase())) out[k.toLowerCase()] = v;
  return out;
}

/** The request with the caller's inline auth removed and `set` headers added (they win). */
export function injectHeaders(request: OutboundRequest, set: Readonly<Record<string, string>>): OutboundRequest {
  const headers = withoutHeaders(request.headers, [...INLINE_AUTH_HEADERS, ...Object.keys(set)]);
  for (const [k, v] of Object.entries(set)) headers[k.toLowerCase()] = v;
  return { ...request, headers };
}

export const injected = (request: OutboundRequest): InjectResult => ({ injectable: true, request });
