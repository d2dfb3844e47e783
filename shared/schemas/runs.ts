import { AgentId, ApiKeyField, Timestamp } from './common.ts';
import { AuthToken } from './profiles.ts';
import * as z from './zod.ts';
import { describe } from './zod.ts';

export const RunAgentBody = z.strictObject({
  agent_id: AgentId,
  api_key: ApiKeyField,
  parameters: describe(z._default(z.record(z.string(), z.unknown()), {}), 'Input arguments besides the credentials of the profile'),
  auth_token: z.optional(AuthToken),
  run_async: describe(z._default(z.boolean(), true), 'false: wait for the runner and return its output'),
});

export const RunState = z.enum(['queued', 'running', 'succeeded', 'failed']);

export const RunAgentResponse = z.object({
  agent_run_url: describe(z.string(), 'GET it for the status of the run'),
  session_id: z.string(),
  agent_output: z.optional(z.unknown()),
  error_message: z.optional(z.string()),
});

export const RunStatus = z.object({
  session_id: z.string(),
  agent_id: AgentId,
  status: RunState,
  agent_output: z.optional(z.unknown()),
  error_message: z.optional(z.string()),
  created_at: Timestamp,
  finished_at: z.optional(Timestamp),
});

export type RunAgentBody = z.infer<typeof RunAgentBody>;
export type RunState = z.infer<typeof RunState>;
export type RunStatus = z.infer<typeof RunStatus>;
