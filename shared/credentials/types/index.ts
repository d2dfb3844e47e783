import type { ProfileItem } from '../../schemas/items.ts';
import { custom } from './custom.ts';
import type { AuthTypeModule } from './types.ts';

export type { AuthTypeModule, InjectResult, OutboundRequest } from './types.ts';

/** Every auth type the vault knows, by name. A new type is one module and one entry here. */
export const authTypes = { custom } as const;

export type AuthTypeName = keyof typeof authTypes;

/**
 * The module of a stored profile's type. Profiles do not store a type yet: every profile is
 * `custom` (free-form auth_data). When the item gains `auth_type`, this reads it.
 */
export function authTypeOf(_item: ProfileItem): AuthTypeModule<Readonly<Record<string, string>>> {
  return authTypes.custom;
}
