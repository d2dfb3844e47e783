import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '../clients.ts';
import { keys, itemAt } from '../keys.ts';
import type { OAuthLinkItem } from '../schemas/items.ts';
import type { ItemSigner } from '../store/signer.ts';
import type { OAuthLinkPurpose, OAuthLinkRecord, OAuthLinkStore } from '../store/types.ts';
import { conditional } from './conditional.ts';

/**
 * Connect links and authorization states (docs/architecture.md, "Delegated OAuth 2.0"): one
 * signed item each, written when issued and consumed by a conditional delete, so exactly one of
 * any number of concurrent openings wins; the TTL is a backstop, the deadline is checked on read.
 */
export function oauthLinkRepository(db: Db, signer: ItemSigner): OAuthLinkStore {
  const TableName = db.tableName;
  return {
    async create(r: OAuthLinkRecord): Promise<boolean> {
      const { id_hex, purpose, ...rest } = r;
      return conditional(() =>
        db.doc.send(
          new PutCommand({
            TableName,
            Item: signer.seal('oauth-link', itemAt(keys.oauthLink(purpose, id_hex), 'oauth_link', rest)),
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      );
    },

    async get(purpose: OAuthLinkPurpose, idHex: string): Promise<OAuthLinkItem | undefined> {
      const { Item } = await db.doc.send(new GetCommand({ TableName, Key: keys.oauthLink(purpose, idHex), ConsistentRead: true }));
      return Item ? signer.open<OAuthLinkItem>('oauth-link', Item) : undefined;
    },

    async consume(purpose: OAuthLinkPurpose, idHex: string): Promise<boolean> {
      return conditional(() =>
        db.doc.send(new DeleteCommand({ TableName, Key: keys.oauthLink(purpose, idHex), ConditionExpression: 'attribute_exists(pk)' })),
      );
    },
  };
}
