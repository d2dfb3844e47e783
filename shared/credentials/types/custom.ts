import { AuthData } from '../../schemas/common.ts';
import type { AuthTypeModule } from './types.ts';

/** Free-form key/value credentials: today's `auth_data`, whose keys are the agent's input arguments. */
export type CustomSecret = Readonly<Record<string, string>>;

/**
 * `custom`: the values are handed to the runner as parameters, merged with the caller's. The
 * vault does not know which value is a password and which a user name, so it cannot place them
 * in an outbound request itself: typed profiles (bearer, basic, api_key, …) are injectable.
 */
export const custom: AuthTypeModule<CustomSecret> = {
  name: 'custom',
  schema: AuthData,
  runParameters: (secret) => ({ ...secret }),
  inject: () => ({
    injectable: false,
    reason: 'a custom auth profile holds free-form values the vault cannot place in a request; use a typed profile to have credentials injected',
  }),
  secretValues: (secret) => Object.values(secret),
};
