import * as z from 'zod';
import { documentedAs } from './doc.ts';
import { MAX_ALLOWED_SOURCE_IPS, MAX_EXPIRES_IN_HOURS } from './policy.ts';
import { ApiKeyField, ProfileName, Timestamp } from './common.ts';
import { AllowedHosts, AllowedMethods, AllowedPathPrefixes } from './policy.ts';

/**
 * Request and response shapes of a profile's lifecycle: expiry, rotate, PATCH of its settings,
 * its usage. Policy fields are stored in clear on the profile item (docs/architecture.md, "Typed profiles, injection and grants").
 */

/** Hours from now, as `expires_in_hours` takes them; each field describes what absent (and null) mean. */
const ExpiryHours = z.number().positive('must be above 0').max(MAX_EXPIRES_IN_HOURS, `must be at most ${MAX_EXPIRES_IN_HOURS} (ten years)`);

export const ExpiresInHours = ExpiryHours.describe(
  'The token stops working this many hours from now (401 token_expired); omit for no expiry',
);

export const TokenState = z.enum(['valid', 'expiring_soon', 'expired']).describe('expiring_soon: less than 24 h left');

export const RotateProfileBody = z.strictObject({
  api_key: ApiKeyField,
  auth_token: z.string().describe('The current auth token (it dies when the rotation succeeds)'),
  expires_in_hours: ExpiryHours.nullable()
    .optional()
    .describe(
      'Expiry of the new token: hours from now; null for no expiry; omitted, the current expiry is kept (an expiry that has passed must be replaced: a number or null)',
    ),
});

export const RotateProfileResponse = z.object({
  auth_token: z.string().describe('The new token, shown once'),
  name: z.string(),
  generation: z.int(),
  token_expires_at: Timestamp.optional(),
});

const PATCHABLE = ['active', 'description', 'allowed_source_ips', 'allowed_hosts', 'allowed_path_prefixes', 'allowed_methods'] as const;

/**
 * PATCH body: the non-secret settings, each optional; `null` removes a setting (description,
 * outbound policy). The outbound policy fields are validated as on create/upsert.
 */
export const PatchProfileBody = z
  .strictObject({
    api_key: ApiKeyField,
    active: z.boolean().optional().describe('false: every use is refused with 403 profile_inactive; nothing is deleted'),
    description: z.string().max(512, 'must be at most 512 characters').nullable().optional().describe('null removes it'),
    allowed_source_ips: z
      .array(z.string().max(64))
      .max(MAX_ALLOWED_SOURCE_IPS)
      .optional()
      .describe('Caller IPs and CIDRs (IPv4/IPv6) allowed to use the profile, checked before the token; [] allows any'),
    allowed_hosts: AllowedHosts.nullable()
      .optional()
      .describe('Hosts the proxy may send the credentials to; null removes (the profile can then not be proxied)'),
    allowed_path_prefixes: AllowedPathPrefixes.nullable().optional().describe('null removes (every path)'),
    allowed_methods: AllowedMethods.nullable().optional().describe('null removes (every method)'),
    name: ProfileName.optional().describe(
      'Renames the profile: its auth token, usage and audit history stay with it; the old name answers 404 from then on; 409 profile_exists if the name is taken. Sent alone.',
    ),
  })
  .refine((b) => b.name !== undefined || PATCHABLE.some((f) => b[f] !== undefined), `send at least one of name, ${PATCHABLE.join(', ')}`)
  .refine(
    (b) => b.name === undefined || PATCHABLE.every((f) => b[f] === undefined),
    'a rename (name) is sent alone: send the settings in a PATCH of their own',
  );

export const UsesByKind = z.object({ run: z.int(), proxy: z.int(), test: z.int() });

/** The lifecycle part of a profile's metadata. */
export const ProfileLifecycleMetadata = z.object({
  active: z.boolean(),
  description: z.string().optional(),
  token_expires_at: Timestamp.optional(),
  token_state: TokenState,
  allowed_source_ips: z.array(z.string()),
  uses_last_7_days: z
    .object({ run: z.int(), proxy: z.int(), test: z.int() })
    .describe('Uses per kind over the last 7 UTC days (today included)'),
  in_flight_until: Timestamp.optional().describe('A run of this profile may still be going until then'),
});

export const UsageSummary = z.object({
  last_used_at: Timestamp.optional(),
  use_count: z.int(),
  uses_last_7_days: UsesByKind.describe('Uses per kind over the last 7 UTC days (today included)'),
  in_flight_until: Timestamp.optional().describe('A run of this profile may still be going until then'),
});

export const ProfileUse = z.object({
  at: Timestamp,
  action: z.enum(['run', 'proxy', 'test']),
  key_id: z.string().describe('Id of the API key that asked (first 16 hex digits of its SHA-256)'),
  status: z.int(),
  result: z.string().describe('ok, or the refusal code'),
  source_ip: z.string().optional(),
  request_id: z.string().optional(),
  session_id: z.string().optional(),
});

export const ProfileUsage = UsageSummary.extend({
  uses: z.array(ProfileUse).describe('The last 50 uses, newest first, refusals included'),
});

export type RotateProfileBody = z.infer<typeof RotateProfileBody>;
export type PatchProfileBody = z.infer<typeof PatchProfileBody>;

export const DeleteQuery = z.strictObject({
  // Sent as the text true or false: a boolean query parameter.
  force: documentedAs(z.enum(['true', 'false'], 'must be true or false').default('false').transform((v) => v === 'true'), { type: 'boolean', default: false }),
});
