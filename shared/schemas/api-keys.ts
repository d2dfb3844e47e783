import { ApiKeyField, Timestamp, refuseFormatCharacters } from './common.ts';
import * as z from './zod.ts';
import { describe } from './zod.ts';

/** A key's role in its tenant: admins manage keys and see every profile; members see their own and granted ones. */
export const ApiKeyRole = z.enum(['admin', 'member'], { error: 'role must be "admin" or "member"' });

/** The short, non-secret id of a key: the first 16 hex digits of its SHA-256. */
export const ApiKeyId = z.string().check(z.regex(/^[0-9a-f]{16}$/, 'key_id must be 16 lowercase hex digits, as GET /v1/api-keys lists it'));

export const CreateApiKeyBody = z.strictObject({
  name: describe(
    z.string().check(
      // Refused before the trim: trim() strips U+FEFF, which would make "ops" + U+FEFF read as "ops".
      z.superRefine(refuseFormatCharacters),
      z.trim(),
      z.minLength(1, 'name must not be empty'),
      z.maxLength(200, 'name is at most 200 characters'),
    ),
    'Shown in listings and audit; not a secret. Surrounding spaces are trimmed; Unicode format characters (Cf) are refused',
  ),
  role: describe(z._default(ApiKeyRole, 'member'), 'member (default) or admin'),
  api_key: ApiKeyField,
});
export type CreateApiKeyBody = z.infer<typeof CreateApiKeyBody>;

/** A key as the API shows it: never its secret or hash. */
export const ApiKey = z.object({
  key_id: ApiKeyId,
  name: z.string(),
  role: ApiKeyRole,
  created_at: Timestamp,
});

export const CreatedApiKey = z.extend(ApiKey, {
  api_key: describe(z.string(), 'The key itself (avk_…): shown once, never again; store it now'),
});

export const ApiKeyList = z.object({
  api_keys: z.array(ApiKey),
  next_cursor: z.optional(z.string()),
});
