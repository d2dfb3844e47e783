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
 * Profile metadata as listed today, plus the fields the typed-profile and lifecycle APIs add.
 * Those are optional here: the console shows a column or a detail only when the API returns it.
 */
export type Profile = ProfileMetadata & {
  readonly auth_type?: string;
  readonly auth_config?: Readonly<Record<string, unknown>>;
  readonly visibility?: string;
  readonly active?: boolean;
  readonly token_expires_at?: string;
  readonly owner?: string;
};

export interface Page<T> {
  readonly next_cursor?: string;
  readonly items: T[];
}
