import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '../clients.ts';
import { type ItemKey, keys } from '../keys.ts';
import { AgentItem, ProfileItem, SessionItem } from '../schemas/items.ts';

export interface ProfileContext {
  readonly agent?: AgentItem;
  readonly profile?: ProfileItem;
  readonly session?: SessionItem;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The agent and, when a slot is named, its profile (and, for runs, the saved session) in one
 * consistent BatchGetItem: one round trip where separate reads would take two or three.
 */
export async function loadProfileContext(
  db: Db,
  tenant: string,
  agentId: string,
  slotHex?: string,
  { withSession = false }: { withSession?: boolean } = {},
): Promise<ProfileContext> {
  const wanted: ItemKey[] = [keys.agent(tenant, agentId)];
  if (slotHex) wanted.push(keys.profile(tenant, agentId, slotHex));
  if (slotHex && withSession) wanted.push(keys.session(tenant, agentId, slotHex));
  const found: Record<string, unknown>[] = [];
  let pending: ItemKey[] = wanted;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > 0) await sleep(Math.min(500, 20 * 2 ** attempt));
    if (attempt > 6) throw new Error('DynamoDB kept returning unprocessed keys');
    const out = await db.doc.send(
      new BatchGetCommand({ RequestItems: { [db.tableName]: { Keys: pending, ConsistentRead: true } } }),
    );
    found.push(...(out.Responses?.[db.tableName] ?? []));
    pending = (out.UnprocessedKeys?.[db.tableName]?.Keys ?? []) as ItemKey[];
  }
  const bySk = (prefix: string) => found.find((i) => typeof i.sk === 'string' && i.sk.startsWith(prefix));
  const agent = bySk('AGENT#');
  const profile = bySk('PROFILE#');
  const session = bySk('SESSION#');
  return {
    agent: agent ? AgentItem.parse(agent) : undefined,
    profile: profile ? ProfileItem.parse(profile) : undefined,
    session: session ? SessionItem.parse(session) : undefined,
  };
}
