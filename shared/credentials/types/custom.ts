import type * as z from '../../schemas/zod.ts';
import { AuthData } from '../../schemas/common.ts';
import type { AuthTypeModule } from './types.ts';

/** custom takes no config. */
export { CustomConfig } from '../../schemas/auth-config.ts';
import { CustomConfig } from '../../schemas/auth-config.ts';

/**
 * `custom`: free-form values (today's `auth_data`, whose keys are the agent's input arguments),
 * handed to the runner as parameters, merged with the caller's. The vault does not know which
 * value is a password and which a user name, so it cannot place them in an outbound request
 * itself: typed profiles (bearer, basic, api_key, …) are injectable.
 */
export const custom: AuthTypeModule<z.infer<typeof CustomConfig>> = {
  name: 'custom',
  config: CustomConfig,
  schemaFor: () => AuthData,
  injection: 'none',
  runParameters: (secret) => ({ ...secret }),
  inject: () => ({
    injectable: false,
    reason: 'a custom auth profile holds free-form values the vault cannot place in a request; use a typed profile (bearer, basic, api_key, oauth2_client_credentials) to have credentials injected',
  }),
  secretValues: (secret) => Object.values(secret),
};
