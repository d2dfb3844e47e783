import { ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '../clients.ts';
import { PROFILE_NAME_INDEX_PK, PROFILE_NAME_INDEX_SK, PROFILE_PREFIX, keys } from '../keys.ts';
import { conditional } from './conditional.ts';

/** What `index-profiles` did. */
export interface IndexProfilesOutcome {
  /** Profiles that got their name-index keys. */
  indexed: number;
  /** Profiles that had them already. */
  already: number;
}

/**
 * The operator's migration to the name index (infra/local/admin.ts index-profiles;
 * docs/deploy.md, "Upgrading"): profiles written before the index carry no index keys, so
 * GET /v1/auth-profiles does not list them until they are next written. This scans the table
 * once (an operator tool, like sign-items; no request path scans) and adds the keys, each write
 * conditioned on the keys still being absent and the name unchanged. The index keys are outside
 * the item's MAC (they only order a listing, whose items are verified when read).
 */
export async function indexUnindexedProfiles(db: Db): Promise<IndexProfilesOutcome> {
  const outcome: IndexProfilesOutcome = { indexed: 0, already: 0 };
  let start: Record<string, unknown> | undefined;
  do {
    const page = await db.doc.send(
      new ScanCommand({
        TableName: db.tableName,
        ConsistentRead: true,
        ExclusiveStartKey: start,
        FilterExpression: 'begins_with(sk, :p)',
        ProjectionExpression: 'pk, sk, tenant, agent_id, #n, #ipk',
        ExpressionAttributeNames: { '#n': 'name', '#ipk': PROFILE_NAME_INDEX_PK },
        ExpressionAttributeValues: { ':p': PROFILE_PREFIX },
      }),
    );
    for (const raw of page.Items ?? []) {
      if (raw[PROFILE_NAME_INDEX_PK] !== undefined) {
        outcome.already++;
        continue;
      }
      if (typeof raw.tenant !== 'string' || typeof raw.agent_id !== 'string' || typeof raw.name !== 'string') continue;
      const index = keys.profileNameIndex(raw.tenant, raw.agent_id, raw.name);
      const wrote = await conditional(() =>
        db.doc.send(
          new UpdateCommand({
            TableName: db.tableName,
            Key: { pk: raw.pk, sk: raw.sk },
            UpdateExpression: 'SET #ipk = :ipk, #isk = :isk',
            ConditionExpression: 'attribute_not_exists(#ipk) AND #n = :n',
            ExpressionAttributeNames: { '#ipk': PROFILE_NAME_INDEX_PK, '#isk': PROFILE_NAME_INDEX_SK, '#n': 'name' },
            ExpressionAttributeValues: { ':ipk': index[PROFILE_NAME_INDEX_PK], ':isk': index[PROFILE_NAME_INDEX_SK], ':n': raw.name },
          }),
        ),
      );
      if (wrote) outcome.indexed++;
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return outcome;
}
