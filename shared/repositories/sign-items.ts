import { PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '../clients.ts';
import { type ItemSigner, kindOf } from '../store/signer.ts';
import { conditional } from './conditional.ts';

/** What `sign-items` did, by item. */
export interface SignItemsOutcome {
  /** Unsigned items (written before the signed store) now signed. */
  signed: number;
  /** Agents and API keys with a v1 MAC (still valid) re-signed as v2. */
  resigned: number;
  /** Items whose MAC verifies already. */
  intact: number;
  /** Items with a MAC that does not verify, or that do not parse: left alone, by key. */
  refused: { pk: string; sk: string; kind: string }[];
}

/**
 * The operator's migration to the signed store (infra/local/admin.ts sign-items): scans the
 * table and signs every item the store signs that carries no MAC yet — the operator attests
 * that the table is untampered. Each write is conditioned on the item being unchanged since it
 * was scanned (no MAC yet, or the same v1 MAC), so a concurrent write is never overwritten.
 * An item whose MAC fails is never signed: it is listed.
 */
export async function signUnsignedItems(db: Db, signer: ItemSigner): Promise<SignItemsOutcome> {
  const outcome: SignItemsOutcome = { signed: 0, resigned: 0, intact: 0, refused: [] };
  let start: Record<string, unknown> | undefined;
  do {
    const page = await db.doc.send(new ScanCommand({ TableName: db.tableName, ConsistentRead: true, ExclusiveStartKey: start }));
    for (const raw of page.Items ?? []) {
      const k = { pk: String(raw.pk), sk: String(raw.sk) };
      const kind = kindOf(k);
      if (!kind) continue;
      const intact = signer.intact(kind, raw);
      const v1 = intact && raw.mac_format === undefined;
      if (intact && !v1) {
        outcome.intact++;
        continue;
      }
      if (!intact && raw.mac !== undefined) {
        outcome.refused.push({ ...k, kind });
        continue;
      }
      let item: Record<string, unknown>;
      try {
        item = signer.seal(kind, raw as typeof k & Record<string, unknown>);
      } catch {
        outcome.refused.push({ ...k, kind }); // does not parse: not the vault's item
        continue;
      }
      const wrote = await conditional(() =>
        db.doc.send(
          new PutCommand({
            TableName: db.tableName,
            Item: item,
            ConditionExpression: v1 ? 'mac = :read AND attribute_not_exists(mac_format)' : 'attribute_exists(pk) AND attribute_not_exists(mac)',
            ExpressionAttributeValues: v1 ? { ':read': raw.mac } : undefined,
          }),
        ),
      );
      if (wrote && v1) outcome.resigned++;
      else if (wrote) outcome.signed++;
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return outcome;
}
