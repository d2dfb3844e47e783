import * as z from 'zod';
import { AgentId, ApiKeyField, AuthData, ProfileName, Timestamp } from './common.ts';

export const AuthToken = z.string().describe('avt_… token returned by create/replace; never stored by the vault');

export const CreateProfileBody = z.object({
  name: ProfileName,
  agent_id: AgentId,
  api_key: ApiKeyField,
  auth_data: AuthData,
});

export const UpsertProfileBody = z.object({
  agent_id: AgentId,
  api_key: ApiKeyField,
  auth_data: AuthData,
  name: ProfileName.optional().describe('Required without auth_token'),
  should_save_session: z.boolean().optional().describe('Store the session the runner returns, encrypted'),
  auth_token: AuthToken.optional().describe('Given: update this profile in place, the token stays valid'),
});

export const CreateProfileResponse = z.object({ auth_token: AuthToken });

export const UpsertType = z.enum(['create', 'replace', 'update']);
export const UpsertProfileResponse = z.object({ auth_token: AuthToken, name: ProfileName, type: UpsertType });

export const ProfileMetadata = z.object({
  agent_id: AgentId,
  name: ProfileName,
  fields: z.array(z.string()).describe('auth_data keys; values are never returned'),
  generation: z.int().describe('Incremented by every replace'),
  record_version: z.int().describe('Incremented by every write'),
  should_save_session: z.boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
  last_used_at: Timestamp.optional(),
  use_count: z.int(),
});

export const ProfileList = z.object({
  profiles: z.array(ProfileMetadata),
  next_cursor: z.string().optional().describe('Pass as ?cursor= for the next page'),
});

export const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().max(2048).optional(),
});

export type CreateProfileBody = z.infer<typeof CreateProfileBody>;
export type UpsertProfileBody = z.infer<typeof UpsertProfileBody>;
export type UpsertType = z.infer<typeof UpsertType>;
export type ProfileMetadata = z.infer<typeof ProfileMetadata>;
