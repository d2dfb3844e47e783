import type * as z from 'zod';
import type { Agent } from '../../shared/schemas/agents.ts';
import type { ApiKey as ApiKeySchema, CreatedApiKey as CreatedApiKeySchema } from '../../shared/schemas/api-keys.ts';
import type { ProfileMetadata } from '../../shared/schemas/profiles.ts';
import type { RunStatus } from '../../shared/schemas/runs.ts';

// Types only (erased from the bundle): the console reads the very shapes the zod schemas define.
export type { Agent, RunStatus };
/** A tenant API key as GET /v1/api-keys lists it (never its secret), and as POST answers it once. */
export type ApiKey = z.infer<typeof ApiKeySchema>;
export type CreatedApiKey = z.infer<typeof CreatedApiKeySchema>;

/**
 * Profile metadata as GET …/auth-profiles[/{name}] returns it: type and config, policy, usage,
 * lifecycle, and access (owner, visibility, grants). Never a value.
 */
export type Profile = ProfileMetadata;
/** One grant on a profile: a key (by key_id) or every member ("role:member"), read or read_write. */
export type Grant = ProfileMetadata['grants'][number];

export interface Page<T> {
  readonly next_cursor?: string;
  readonly items: T[];
}
