import { ValidationError } from '../errors.ts';

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
