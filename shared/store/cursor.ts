import { ValidationError } from '../errors.ts';
import { PROFILE_NAME_INDEX_PK, PROFILE_NAME_INDEX_SK, PROFILE_PREFIX } from '../keys.ts';

/** Encodes the key of the last item read (DynamoDB's LastEvaluatedKey) as an opaque cursor. */
export function encodeCursor(key: Record<string, unknown> | undefined): string | undefined {
  return key ? Buffer.from(JSON.stringify({ pk: key.pk, sk: key.sk })).toString('base64url') : undefined;
}

/**
 * Decodes a cursor and checks it points into the partition being listed, so a cursor can never
 * be used to read (or probe) another tenant's or agent's items.
 */
export function decodeCursor(cursor: string | undefined, pk: string, skPrefix: string): Record<string, string> | undefined {
  if (cursor === undefined) return undefined;
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      typeof key === 'object' &&
      key !== null &&
      (key as { pk?: unknown }).pk === pk &&
      typeof (key as { sk?: unknown }).sk === 'string' &&
      (key as { sk: string }).sk.startsWith(skPrefix)
    ) {
      return { pk, sk: (key as { sk: string }).sk };
    }
  } catch {
    // fall through
  }
  throw new ValidationError('cursor is not valid for this listing; pass the next_cursor of the previous page unchanged');
}

/** The key of the last item read from the profile name index (table key and index key) as an opaque cursor. */
export function encodeIndexCursor(key: Record<string, unknown> | undefined): string | undefined {
  return key
    ? Buffer.from(JSON.stringify({ pk: key.pk, sk: key.sk, ipk: key[PROFILE_NAME_INDEX_PK], isk: key[PROFILE_NAME_INDEX_SK] })).toString(
        'base64url',
      )
    : undefined;
}

/**
 * Decodes a name-index cursor and checks it points into the index partition being listed and at
 * a profile of the same tenant, so it cannot be used to read another tenant's listing.
 */
export function decodeIndexCursor(cursor: string | undefined, indexPk: string, tablePkPrefix: string): Record<string, string> | undefined {
  if (cursor === undefined) return undefined;
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (
      typeof key === 'object' &&
      key !== null &&
      key.ipk === indexPk &&
      typeof key.isk === 'string' &&
      typeof key.pk === 'string' &&
      key.pk.startsWith(tablePkPrefix) &&
      typeof key.sk === 'string' &&
      key.sk.startsWith(PROFILE_PREFIX)
    ) {
      return { pk: key.pk, sk: key.sk, [PROFILE_NAME_INDEX_PK]: indexPk, [PROFILE_NAME_INDEX_SK]: key.isk };
    }
  } catch {
    // fall through
  }
  throw new ValidationError('cursor is not valid for this listing; pass the next_cursor of the previous page unchanged');
}
