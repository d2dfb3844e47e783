import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '#shared/clients';
import type { ItemKey } from '#shared/keys';

/**
 * A table writer without the server key: sets (or, with undefined, removes) one attribute of a
 * stored item with a raw UpdateItem through the document client, bypassing the signed store.
 * `attr` may be a path of names (`auth_config.token_url`).
 */
export async function setRawAttribute(db: Db, k: ItemKey, attr: string, value: unknown): Promise<void> {
  const parts = attr.split('.');
  const names = Object.fromEntries(parts.map((p, i) => [`#a${i}`, p]));
  const path = parts.map((_, i) => `#a${i}`).join('.');
  await db.doc.send(
    new UpdateCommand({
      TableName: db.tableName,
      Key: { pk: k.pk, sk: k.sk },
      UpdateExpression: value === undefined ? `REMOVE ${path}` : `SET ${path} = :v`,
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: names,
      ...(value === undefined ? {} : { ExpressionAttributeValues: { ':v': value } }),
    }),
  );
}
