import { AuditAction } from '../audit/record.ts';
import { AgentId, ProfileName, Timestamp } from './common.ts';
import * as z from './zod.ts';
import { describe } from './zod.ts';

export const AuditQuery = z
  .strictObject({
    agent_id: z.optional(AgentId),
    profile: describe(z.optional(ProfileName), 'Needs agent_id'),
    action: z.optional(AuditAction),
    since: z.optional(z.iso.datetime({ offset: true, message: 'must be an ISO-8601 time such as 2026-12-01T00:00:00Z' })),
    limit: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(100)), 50),
    cursor: z.optional(z.string().check(z.maxLength(2048))),
  })
  .check(z.refine((q) => q.profile === undefined || q.agent_id !== undefined, { message: 'profile needs agent_id', path: ['profile'] }));

export const AuditEntry = z.object({
  id: z.string(),
  at: Timestamp,
  action: AuditAction,
  key_id: describe(z.string(), 'Id of the API key that made the request; "system" for the vault itself'),
  agent_id: describe(z.optional(AgentId), 'Absent on API-key events (api_key_create, api_key_revoke)'),
  profile: z.optional(z.string()),
  new_name: describe(z.optional(z.string()), 'rename: the name after (profile: the name before)'),
  generation: z.optional(z.int()),
  status: z.int(),
  result: describe(z.string(), 'ok, or the error code'),
  source_ip: z.optional(z.string()),
  request_id: z.optional(z.string()),
  session_id: z.optional(z.string()),
  principal: describe(
    z.optional(z.string()),
    'share/unshare: the grantee (a key_id or "role:member"); api_key_create/revoke: the key_id; webhook_*: the webhook_id',
  ),
  permission: describe(z.optional(z.enum(['read', 'read_write'])), 'share: the permission granted'),
  role: describe(z.optional(z.enum(['admin', 'member'])), "api_key_create: the new key's role"),
});

export const AuditPage = z.object({
  records: describe(z.array(AuditEntry), 'Newest first'),
  next_cursor: z.optional(z.string()),
});

export type AuditQuery = z.infer<typeof AuditQuery>;
