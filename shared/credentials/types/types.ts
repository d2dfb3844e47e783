import type * as z from 'zod';

/**
 * The per-type seam. Each auth type is one module (types/<name>.ts) that says what its secret
 * looks like (a zod schema) and how it is used: handed to a runner as parameters, or injected
 * into an outbound request. Adding a type = one module + one line in types/index.ts.
 */

/** An outbound HTTP request before the vault sends it (the proxy and "test profile" build one). */
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

export interface AuthTypeModule<Secret> {
  readonly name: string;
  /** The decrypted values of a profile of this type (the single source of truth for validation). */
  readonly schema: z.ZodType<Secret>;
  /** What a runner receives in `parameters` when the credential is delivered to it. */
  runParameters(secret: Secret): Record<string, string>;
  /** The request with the credential injected (proxy, test), or `injectable: false` with a reason. */
  inject(request: OutboundRequest, secret: Secret): InjectResult;
  /** Every value that must never come back out (the leak guard redacts these from runner and upstream answers). */
  secretValues(secret: Secret): string[];
}
