import * as z from '../../schemas/zod.ts';
import { describe } from '../../schemas/zod.ts';
import { type AuthTypeModule, injectHeaders, injected } from './types.ts';

/** bearer: auth_data `{token}`; no config. Sent as `Authorization: Bearer <token>`. */
export { BearerConfig } from '../../schemas/auth-config.ts';
import { BearerConfig } from '../../schemas/auth-config.ts';
export const BearerSecret = z.strictObject({
  token: describe(
    z
      .string()
      // It travels in a header: visible ASCII, no spaces (RFC 6750's b64token is stricter still).
      .check(z.regex(/^[\x21-\x7e]+$/, 'must be visible ASCII without spaces (it is sent in the Authorization header)')),
    'Sent as Authorization: Bearer <token>',
  ),
});

export const bearer: AuthTypeModule<z.infer<typeof BearerConfig>> = {
  name: 'bearer',
  config: BearerConfig,
  schemaFor: () => BearerSecret,
  injection: 'direct',
  runParameters: (secret) => ({ ...secret }),
  inject: (request, secret) => injected(injectHeaders(request, { authorization: `Bearer ${secret.token ?? ''}` })),
  secretValues: (secret) => [...Object.values(secret), `Bearer ${secret.token ?? ''}`],
};
