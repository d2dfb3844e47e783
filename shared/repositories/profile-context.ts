import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '../clients.ts';
import { AGENT_PREFIX, type ItemKey, NAME_PREFIX, OAUTH_TOKEN_PREFIX, PROFILE_PREFIX, SESSION_PREFIX, keys } from '../keys.ts';
import { drainBatch } from './batch.ts';
import type { AgentItem, OAuthTokenItem, ProfileItem, ProfileNameItem, SessionItem } from '../schemas/items.ts';
import type { ItemSigner } from '../store/signer.ts';
import type { AgentRef, ProfileContext, ProfileContextOptions, ProfileRef } from '../store/types.ts';

/**
 * The agent and, given a ProfileRef (not only an AgentRef), its profile (and, for runs, the saved session; for uses
 * that inject, the OAuth2 token cache item) in one consistent BatchGetItem: one round trip where
 * separate reads would take two or three.
 */
export async function loadProfileContext(
  db: Db,
  signer: ItemSigner,
  at: ProfileRef | AgentRef,
  { withSession = false, withOAuthToken = false, withNameClaim = false }: ProfileContextOptions = {},
): Promise<ProfileContext> {
  const wanted: ItemKey[] = [keys.agent(at.tenant, at.agentId)];
  const ref = 'slot' in at ? at : undefined;
  if (ref) wanted.push(keys.profile(ref));
  if (ref && withSession) wanted.push(keys.session(ref));
  if (ref && withOAuthToken) wanted.push(keys.oauthToken(ref));
  if (ref && withNameClaim) wanted.push(keys.profileName(ref.tenant, ref.agentId, ref.slot));
  const found: Record<string, unknown>[] = [];
  await drainBatch(
    wanted,
    async (pending) => {
      const out = await db.doc.send(new BatchGetCommand({ RequestItems: { [db.tableName]: { Keys: pending, ConsistentRead: true } } }));
      found.push(...(out.Responses?.[db.tableName] ?? []));
      return (out.UnprocessedKeys?.[db.tableName]?.Keys ?? []) as ItemKey[];
    },
    'keys',
    { baseDelayMs: 20, maxDelayMs: 500, maxRounds: 6 },
  );
  const bySk = (prefix: string) => found.find((i) => typeof i.sk === 'string' && i.sk.startsWith(prefix));
  const agent = bySk(AGENT_PREFIX);
  const profile = bySk(PROFILE_PREFIX);
  const session = bySk(SESSION_PREFIX);
  const oauthToken = bySk(OAUTH_TOKEN_PREFIX);
  const nameClaim = bySk(NAME_PREFIX);
  return {
    agent: agent ? signer.open<AgentItem>('agent', agent) : undefined,
    profile: profile ? signer.open<ProfileItem>('profile', profile) : undefined,
    session: session ? signer.open<SessionItem>('session', session) : undefined,
    oauthToken: oauthToken ? signer.open<OAuthTokenItem>('oauth-token', oauthToken) : undefined,
    nameClaim: nameClaim ? signer.open<ProfileNameItem>('profile-name', nameClaim) : undefined,
  };
}
