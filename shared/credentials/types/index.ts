import * as z from '../../schemas/zod.ts';
import { parseOrThrow } from '../../schemas/zod.ts';
import { parseInput } from '../../schemas/common.ts';
import type { ProfileItem } from '../../schemas/items.ts';
import { apiKey } from './api-key.ts';
import { basic } from './basic.ts';
import { bearer } from './bearer.ts';
import { custom } from './custom.ts';
import { oauth2AuthorizationCode } from './oauth2-authorization-code.ts';
import { oauth2ClientCredentials } from './oauth2-client-credentials.ts';
import type { AuthTypeModule, AuthTypeName, Deployment } from './types.ts';

export { AuthType, type AuthTypeModule, type AuthTypeName, type Deployment, deploymentOf, type InjectResult, type OutboundRequest, type Secret } from './types.ts';

/**
 * Every auth type the vault knows, by name. A new type is one module and one entry here; the
 * `satisfies` makes the compiler ask for every name of `AuthType`. (Each module has its own
 * config shape, hence `any` for the config.)
 */
export const authTypes = { custom, bearer, basic, api_key: apiKey, oauth2_client_credentials: oauth2ClientCredentials, oauth2_authorization_code: oauth2AuthorizationCode } as const satisfies Record<AuthTypeName, AuthTypeModule<any>>;

/** The module of an auth type, with its config as a plain record. */
export function authTypeModule(name: AuthTypeName): AuthTypeModule {
  return authTypes[name] as unknown as AuthTypeModule;
}

/** The module of a stored profile's type (items written before typed profiles read as custom). */
export function authTypeOf(item: Pick<ProfileItem, 'auth_type'>): AuthTypeModule {
  return authTypeModule(item.auth_type);
}

/** A typed profile's validated parts. */
export interface TypedCredential {
  readonly authType: AuthTypeName;
  readonly config: Record<string, unknown>;
}

/**
 * Validates a profile's non-secret config and secret values together, and the config's rules for
 * where the vault runs (`deployment`). Every problem is a 400 naming the field:
 * `auth_data.token: is required` for a bearer profile without a token.
 */
export function parseCredential(type: AuthTypeModule, authConfig: unknown, authData: Readonly<Record<string, string>>, deployment: Deployment): TypedCredential {
  const config = parseInput(z.object({ auth_config: type.config }), { auth_config: authConfig ?? {} }, `auth_config for auth_type ${type.name}`)
    .auth_config as Record<string, unknown>;
  type.assertDeployable?.(config, deployment);
  parseInput(z.object({ auth_data: type.schemaFor(config) }), { auth_data: authData }, `auth_data for auth_type ${type.name}`);
  return { authType: type.name, config };
}

/** The stored config of a profile, parsed again by its type (a foreign or stale item fails loudly). */
export function storedConfig(type: AuthTypeModule, stored: unknown): Record<string, unknown> {
  return parseOrThrow(type.config, stored ?? {}) as Record<string, unknown>;
}
