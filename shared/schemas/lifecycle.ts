import { documentedAs } from './doc.ts';
import { MAX_ALLOWED_SOURCE_IPS, MAX_EXPIRES_IN_HOURS } from './policy.ts';
import { ApiKeyField, ProfileName, Timestamp } from './common.ts';
import { AllowedHosts, AllowedMethods, AllowedPathPrefixes } from './policy.ts';
import * as z from './zod.ts';
import { describe } from './zod.ts';

/**
 * Request and response shapes of a profile's lifecycle: expiry, rotate, PATCH of its settings,
 * its usage. Policy fields are stored in clear on the profile item (docs/architecture.md, "Typed profiles, injection and grants").
 */

/** Hours from now, as `expires_in_hours` takes them; each field describes what absent (and null) mean. */
const ExpiryHours = z
  .number()
  .check(z.positive('must be above 0'), z.maximum(MAX_EXPIRES_IN_HOURS, `must be at most ${MAX_EXPIRES_IN_HOURS} (ten years)`));

export const ExpiresInHours = describe(
  ExpiryHours,
  'The token stops working this many hours from now (401 token_expired); omit for no expiry',
);

export const TokenState = describe(z.enum(['valid', 'expiring_soon', 'expired']), 'expiring_soon: less than 24 h left');

export const RotateProfileBody = z.strictObject({
  api_key: ApiKeyField,
  auth_token: describe(z.string(), 'The current auth token (it dies when the rotation succeeds)'),
  expires_in_hours: describe(
    z.optional(z.nullable(ExpiryHours)),
    'Expiry of the new token: hours from now; null for no expiry; omitted, the current expiry is kept (an expiry that has passed must be replaced: a number or null)',
  ),
});

export const RotateProfileResponse = z.object({
  auth_token: describe(z.string(), 'The new token, shown once'),
  name: z.string(),
  generation: z.int(),
  token_expires_at: z.optional(Timestamp),
});

const PATCHABLE = ['active', 'description', 'allowed_source_ips', 'allowed_hosts', 'allowed_path_prefixes', 'allowed_methods'] as const;

/**
 * PATCH body: the non-secret settings, each optional; `null` removes a setting (description,
 * outbound policy). The outbound policy fields are validated as on create/upsert.
 */
export const PatchProfileBody = z
  .strictObject({
    api_key: ApiKeyField,
    active: describe(z.optional(z.boolean()), 'false: every use is refused with 403 profile_inactive; nothing is deleted'),
    description: describe(z.optional(z.nullable(z.string().check(z.maxLength(512, 'must be at most 512 characters')))), 'null removes it'),
    allowed_source_ips: describe(
      z.optional(z.array(z.string().check(z.maxLength(64))).check(z.maxLength(MAX_ALLOWED_SOURCE_IPS))),
      'Caller IPs and CIDRs (IPv4/IPv6) allowed to use the profile, checked before the token; [] allows any',
    ),
    allowed_hosts: describe(
      z.optional(z.nullable(AllowedHosts)),
      'Hosts the proxy may send the credentials to; null removes (the profile can then not be proxied)',
    ),
    allowed_path_prefixes: describe(z.optional(z.nullable(AllowedPathPrefixes)), 'null removes (every path)'),
    allowed_methods: describe(z.optional(z.nullable(AllowedMethods)), 'null removes (every method)'),
    name: describe(
      z.optional(ProfileName),
      'Renames the profile: its auth token, usage and audit history stay with it; the old name answers 404 from then on; 409 profile_exists if the name is taken. Sent alone.',
    ),
  })
  .check(
    z.refine(
      (b) => b.name !== undefined || PATCHABLE.some((f) => b[f] !== undefined),
      `send at least one of name, ${PATCHABLE.join(', ')}`,
    ),
    z.refine(
      (b) => b.name === undefined || PATCHABLE.every((f) => b[f] === undefined),
      'a rename (name) is sent alone: send the settings in a PATCH of their own',
    ),
  );

export const UsesByKind = z.object({ run: z.int(), proxy: z.int(), test: z.int() });

/** The lifecycle part of a profile's metadata. */
export const ProfileLifecycleMetadata = z.object({
  active: z.boolean(),
  description: z.optional(z.string()),
  token_expires_at: z.optional(Timestamp),
  token_state: TokenState,
  allowed_source_ips: z.array(z.string()),
  uses_last_7_days: describe(
    z.object({ run: z.int(), proxy: z.int(), test: z.int() }),
    'Uses per kind over the last 7 UTC days (today included)',
  ),
  in_flight_until: describe(z.optional(Timestamp), 'A run of this profile may still be going until then'),
});

export const UsageSummary = z.object({
  last_used_at: z.optional(Timestamp),
  use_count: z.int(),
  uses_last_7_days: describe(UsesByKind, 'Uses per kind over the last 7 UTC days (today included)'),
  in_flight_until: describe(z.optional(Timestamp), 'A run of this profile may still be going until then'),
});

export const ProfileUse = z.object({
  at: Timestamp,
  action: z.enum(['run', 'proxy', 'test']),
  key_id: describe(z.string(), 'Id of the API key that asked (first 16 hex digits of its SHA-256)'),
  status: z.int(),
  result: describe(z.string(), 'ok, or the refusal code'),
  source_ip: z.optional(z.string()),
  request_id: z.optional(z.string()),
  session_id: z.optional(z.string()),
});

export const ProfileUsage = z.extend(UsageSummary, {
  uses: describe(z.array(ProfileUse), 'The last 50 uses, newest first, refusals included'),
});

export type RotateProfileBody = z.infer<typeof RotateProfileBody>;
export type PatchProfileBody = z.infer<typeof PatchProfileBody>;

export const DeleteQuery = z.strictObject({
  // Sent as the text true or false: a boolean query parameter.
  force: documentedAs(
    z.pipe(
      z._default(z.enum(['true', 'false'], 'must be true or false'), 'false'),
      z.transform((v: 'true' | 'false') => v === 'true'),
    ),
    { type: 'boolean', default: false },
  ),
});
