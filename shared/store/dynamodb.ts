import type { Db } from '../clients.ts';
import { agentRepository } from '../repositories/agents.ts';
import { apiKeyRepository } from '../repositories/api-keys.ts';
import { auditRepository } from '../repositories/audit.ts';
import { grantRepository } from '../repositories/grants.ts';
import { oauthTokenRepository } from '../repositories/oauth-tokens.ts';
import { loadProfileContext } from '../repositories/profile-context.ts';
import { profileRepository } from '../repositories/profiles.ts';
import { rateLimitRepository } from '../repositories/rate-limits.ts';
import { runJobRepository } from '../repositories/run-jobs.ts';
import { runRepository } from '../repositories/runs.ts';
import { sessionRepository } from '../repositories/sessions.ts';
import type { Store } from './types.ts';

/**
 * The DynamoDB implementation of the store: the repositories of shared/repositories/ (with
 * clients.ts, the only code that imports @aws-sdk/lib-dynamodb) over one table.
 */
export function dynamoStore(db: Db): Store {
  return {
    name: db.tableName,
    agents: agentRepository(db),
    apiKeys: apiKeyRepository(db),
    profiles: profileRepository(db),
    profileContext: { load: (tenant, agentId, slotHex, options) => loadProfileContext(db, tenant, agentId, slotHex, options) },
    sessions: sessionRepository(db),
    runs: runRepository(db),
    runJobs: runJobRepository(db),
    grants: grantRepository(db),
    oauthTokens: oauthTokenRepository(db),
    audit: auditRepository(db),
    rateLimits: rateLimitRepository(db),
  };
}
