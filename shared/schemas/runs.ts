import * as z from 'zod';
import { AgentId, ApiKeyField, Timestamp } from './common.ts';
import { AuthToken } from './profiles.ts';

export const RunAgentBody = z.strictObject({
  agent_id: AgentId,
  api_key: ApiKeyField,
  parameters: z.record(z.string(), z.unknown()).default({}).describe('Input arguments besides the credentials of the profile'),
  auth_token: AuthToken.optional(),
  run_async: z.boolean().default(true).describe('false: wait for the runner and return its output'),
});

export const RunState = z.enum(['queued', 'running', 'succeeded', 'failed']);

export const RunAgentResponse = z.object({
  agent_run_url: z.string().describe('GET it for the status of the run'),
  session_id: z.string(),
  agent_output: z.unknown().optional(),
  error_message: z.string().optional(),
});

export const RunStatus = z.object({
  session_id: z.string(),
  agent_id: AgentId,
  status: RunState,
  agent_output: z.unknown().optional(),
  error_message: z.string().optional(),
  created_at: Timestamp,
  finished_at: Timestamp.optional(),
});

export type RunAgentBody = z.infer<typeof RunAgentBody>;
export type RunState = z.infer<typeof RunState>;
export type RunStatus = z.infer<typeof RunStatus>;
