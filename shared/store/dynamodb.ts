import type { Db } from '../clients.ts';
import { agentRepository } from '../repositories/agents.ts';
import { apiKeyRepository } from '../repositories/api-keys.ts';
import { auditRepository } from '../repositories/audit.ts';
import { grantRepository } from '../repositories/grants.ts';
import { oauthLinkRepository } from '../repositories/oauth-links.ts';
import { oauthTokenRepository } from '../repositories/oauth-tokens.ts';
import { loadProfileContext } from '../repositories/profile-context.ts';
import { profileRepository } from '../repositories/profiles.ts';
import { profileNameRepository } from '../repositories/profile-names.ts';
import { rateLimitRepository } from '../repositories/rate-limits.ts';
import { runJobRepository } from '../repositories/run-jobs.ts';
import { runRepository } from '../repositories/runs.ts';
import { sessionRepository } from '../repositories/sessions.ts';
import { webhookRepository } from '../repositories/webhooks.ts';
export { type SignItemsOutcome, signUnsignedItems } from '../repositories/sign-items.ts';
export { type IndexProfilesOutcome, indexUnindexedProfiles } from '../repositories/index-profiles.ts';
import type { ItemSigner } from './signer.ts';
import type { Store } from './types.ts';

/**
 * The DynamoDB implementation of the store: the repositories of shared/repositories/ (with
 * clients.ts, the only code that imports @aws-sdk/lib-dynamodb) over one table, each sealing
 * what it writes and opening what it reads with `signer` (store/signer.ts: the signed store).
 */
export function dynamoStore(db: Db, signer: ItemSigner): Store {
  return {
    name: db.tableName,
    agents: agentRepository(db, signer),
    apiKeys: apiKeyRepository(db, signer),
    profiles: profileRepository(db, signer),
    profileNames: profileNameRepository(db, signer),
    profileContext: { load: (at, options) => loadProfileContext(db, signer, at, options) },
    sessions: sessionRepository(db, signer),
    runs: runRepository(db, signer),
    runJobs: runJobRepository(db, signer),
    grants: grantRepository(db, signer),
    oauthTokens: oauthTokenRepository(db, signer),
    webhooks: webhookRepository(db, signer),
    oauthLinks: oauthLinkRepository(db, signer),
    audit: auditRepository(db),
    rateLimits: rateLimitRepository(db),
  };
}
