import * as z from 'zod';
import { AgentId, ApiKeyField, InputArgName, Timestamp } from './common.ts';

const InputArgFields = {
  name: InputArgName,
  required: z.boolean().default(false).describe('run_agent refuses to start without it'),
  secret: z.boolean().default(true).describe('Whether the value is a credential (informational)'),
  description: z.string().max(1024).optional(),
};

/** An input argument as stored (shared/schemas/items.ts) and returned. */
export const InputArg = z.object(InputArgFields);

const WebhookRunnerFields = {
  type: z.literal('webhook'),
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048),
  timeout_ms: z.int().min(100).max(900_000).optional().describe('How long a run may take; default 30000'),
};

export const WebhookRunner = z.object(WebhookRunnerFields);

/** A runner as stored (shared/schemas/items.ts) and returned. */
export const Runner = z.discriminatedUnion('type', [WebhookRunner], { error: 'runner.type must be "webhook"' });

/*
 * Request bodies are strict at every level (an unknown field is a 400 unknown_field, see parseInput
 * in shared/schemas/common.ts); what is stored and returned stays as it is above, so a stored item
 * is never refused for its shape here.
 */
const InputArgBody = z.strictObject(InputArgFields);
const RunnerBody = z.discriminatedUnion('type', [z.strictObject(WebhookRunnerFields)], { error: 'runner.type must be "webhook"' });

/**
 * How a run hands the profile's credentials to the runner: `parameters` (merged into the runner's
 * parameters, the default) or `proxy` (the runner gets no secret, only a run grant and the proxy URL).
 */
export const CredentialDelivery = z
  .enum(['parameters', 'proxy'])
  .describe('parameters (default): the runner receives the profile\'s values in parameters; proxy: it receives none, only a run grant (avg_…) for POST /v1/proxy, valid while the run runs');

const AgentFields = {
  name: z.string().min(1).max(200),
  description: z.string().max(2000).optional(),
  input_args: z
    .array(InputArgBody)
    .max(64, 'at most 64 input arguments')
    .refine((args) => new Set(args.map((a) => a.name)).size === args.length, 'input argument names must be unique'),
  runner: RunnerBody,
  credential_delivery: CredentialDelivery.optional().describe('parameters (default) | proxy: see CredentialDelivery'),
};

export const CreateAgentBody = z.strictObject({ agent_id: AgentId.optional(), ...AgentFields, api_key: ApiKeyField });
export const UpdateAgentBody = z.strictObject({ ...AgentFields, api_key: ApiKeyField });

export const Agent = z.object({
  agent_id: AgentId,
  name: z.string(),
  description: z.string().optional(),
  input_args: z.array(InputArg),
  runner: Runner,
  credential_delivery: CredentialDelivery,
  owner: z.string().optional().describe('key_id of the API key that registered the agent: with the admins, the only key that may change, rotate or delete it'),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const CreatedAgent = Agent.extend({
  runner_signing_secret: z.string().describe('Returned once: runners verify X-Agent-Vault-Signature with it'),
});

export const AgentList = z.object({ agents: z.array(Agent), next_cursor: z.string().optional() });

export const SigningSecret = z.object({ agent_id: AgentId, runner_signing_secret: z.string() });

export type InputArg = z.infer<typeof InputArg>;
export type Runner = z.infer<typeof Runner>;
export type Agent = z.infer<typeof Agent>;
export type CreateAgentBody = z.infer<typeof CreateAgentBody>;
export type UpdateAgentBody = z.infer<typeof UpdateAgentBody>;
