import * as z from 'zod';
import { AuditAction } from '../audit/record.ts';
import { AgentId, ProfileName, Timestamp } from './common.ts';

export const AuditQuery = z
  .strictObject({
    agent_id: AgentId.optional(),
    profile: ProfileName.optional().describe('Needs agent_id'),
    action: AuditAction.optional(),
    since: z.iso.datetime({ offset: true, message: 'must be an ISO-8601 time such as 2026-12-01T00:00:00Z' }).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(50),
    cursor: z.string().max(2048).optional(),
  })
  .refine((q) => q.profile === undefined || q.agent_id !== undefined, { message: 'profile needs agent_id', path: ['profile'] });

export const AuditEntry = z.object({
  id: z.string(),
  at: Timestamp,
  action: AuditAction,
  key_id: z.string().describe('Id of the API key that made the request; "system" for the vault itself'),
  agent_id: AgentId.optional().describe('Absent on API-key events (api_key_create, api_key_revoke)'),
  profile: z.string().optional(),
  new_name: z.string().optional().describe('rename: the name after (profile: the name before)'),
  generation: z.int().optional(),
  status: z.int(),
  result: z.string().describe('ok, or the error code'),
  source_ip: z.string().optional(),
  request_id: z.string().optional(),
  session_id: z.string().optional(),
  principal: z.string().optional().describe('share/unshare: the grantee (a key_id or "role:member"); api_key_create/revoke: the key_id; webhook_*: the webhook_id'),
  permission: z.enum(['read', 'read_write']).optional().describe('share: the permission granted'),
  role: z.enum(['admin', 'member']).optional().describe("api_key_create: the new key's role"),
});

export const AuditPage = z.object({
  records: z.array(AuditEntry).describe('Newest first'),
  next_cursor: z.string().optional(),
});

export type AuditQuery = z.infer<typeof AuditQuery>;
