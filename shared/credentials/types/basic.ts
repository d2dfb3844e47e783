import * as z from '../../schemas/zod.ts';
import { type AuthTypeModule, injectHeaders, injected } from './types.ts';

/** basic: auth_data `{username, password}`; no config. Sent as `Authorization: Basic base64(user:pass)`. */
export { BasicConfig } from '../../schemas/auth-config.ts';
import { BasicConfig } from '../../schemas/auth-config.ts';
export const BasicSecret = z.strictObject({
  // RFC 7617: the user-id cannot contain a colon (the first colon ends it).
  username: z.string().check(z.refine((s) => !s.includes(':'), 'must not contain ":" (RFC 7617 Basic auth)')),
  password: z.string(),
});

/** `user:pass` in base64, what Basic auth sends. */
export const basicCredentials = (username: string, password: string) => Buffer.from(`${username}:${password}`, 'utf8').toString('base64');

export const basic: AuthTypeModule<z.infer<typeof BasicConfig>> = {
  name: 'basic',
  config: BasicConfig,
  schemaFor: () => BasicSecret,
  injection: 'direct',
  runParameters: (secret) => ({ ...secret }),
  inject: (request, secret) =>
    injected(injectHeaders(request, { authorization: `Basic ${basicCredentials(secret.username ?? '', secret.password ?? '')}` })),
  secretValues: (secret) => {
    const b64 = basicCredentials(secret.username ?? '', secret.password ?? '');
    return [...Object.values(secret), `${secret.username ?? ''}:${secret.password ?? ''}`, b64];
  },
};
