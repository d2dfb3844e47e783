import { AgentId, ApiKeyField, InputArgName, Timestamp } from './common.ts';
import * as z from './zod.ts';
import { describe } from './zod.ts';

const InputArgFields = {
  name: InputArgName,
  required: describe(z._default(z.boolean(), false), 'run_agent refuses to start without it'),
  secret: describe(z._default(z.boolean(), true), 'Whether the value is a credential (informational)'),
  description: z.optional(z.string().check(z.maxLength(1024))),
};

/** An input argument as stored (shared/schemas/items.ts) and returned. */
export const InputArg = z.object(InputArgFields);

const WebhookRunnerFields = {
  type: z.literal('webhook'),
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).check(z.maxLength(2048)),
  timeout_ms: describe(z.optional(z.int().check(z.minimum(100), z.maximum(900_000))), 'How long a run may take; default 30000'),
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
export const CredentialDelivery = describe(
  z.enum(['parameters', 'proxy']),
  "parameters (default): the runner receives the profile's values in parameters; proxy: it receives none, only a run grant (avg_…) for POST /v1/proxy, valid while the run runs",
);

const AgentFields = {
  name: z.string().check(z.minLength(1), z.maxLength(200)),
  description: z.optional(z.string().check(z.maxLength(2000))),
  input_args: z.array(InputArgBody).check(
    z.maxLength(64, 'at most 64 input arguments'),
    z.refine((args) => new Set(args.map((a) => a.name)).size === args.length, 'input argument names must be unique'),
  ),
  runner: RunnerBody,
  credential_delivery: describe(z.optional(CredentialDelivery), 'parameters (default) | proxy: see CredentialDelivery'),
};

export const CreateAgentBody = z.strictObject({ agent_id: z.optional(AgentId), ...AgentFields, api_key: ApiKeyField });
export const UpdateAgentBody = z.strictObject({ ...AgentFields, api_key: ApiKeyField });

export const Agent = z.object({
  agent_id: AgentId,
  name: z.string(),
  description: z.optional(z.string()),
  input_args: z.array(InputArg),
  runner: Runner,
  credential_delivery: CredentialDelivery,
  owner: describe(
    z.optional(z.string()),
    'key_id of the API key that registered the agent: with the admins, the only key that may change, rotate or delete it',
  ),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const CreatedAgent = z.extend(Agent, {
  runner_signing_secret: describe(z.string(), 'Returned once: runners verify X-Agent-Vault-Signature with it'),
});

export const AgentList = z.object({ agents: z.array(Agent), next_cursor: z.optional(z.string()) });

export const SigningSecret = z.object({ agent_id: AgentId, runner_signing_secret: z.string() });

export type InputArg = z.infer<typeof InputArg>;
export type Runner = z.infer<typeof Runner>;
export type Agent = z.infer<typeof Agent>;
export type CreateAgentBody = z.infer<typeof CreateAgentBody>;
export type UpdateAgentBody = z.infer<typeof UpdateAgentBody>;
