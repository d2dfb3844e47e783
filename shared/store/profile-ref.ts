/**
 * Where a profile lives, and with it the items beside it (its saved session, its OAuth2 token
 * cache): the key of the store port's profile methods (shared/store/types.ts), in the shape of
 * Vault's storage port keyed by value objects (docs/architecture.md, "Store port"). Immutable,
 * and built only by the constructors below, which refuse a malformed one, so a store method never
 * sees an empty tenant or agent or a slot that is not one.
 *
 * The name-based constructor (`namedProfileRef`: slot = slotFor(tenant, agent, name)) lives with
 * the slot derivation in shared/credentials/profile-keys.ts: the store does not import credentials.
 */

declare const profileRefBrand: unique symbol;

export interface ProfileRef {
  readonly tenant: string;
  readonly agentId: string;
  /** The profile's slot: 16 bytes as 32 lowercase hex digits (docs/architecture.md, "The table"). */
  readonly slot: string;
  /** Only the constructors below make one (a plain `{ tenant, agentId, slot }` is not a ProfileRef). */
  readonly [profileRefBrand]: true;
}

/** An agent's partition, with no profile named (ProfileContextStore.load of the agent alone). */
export interface AgentRef {
  readonly tenant: string;
  readonly agentId: string;
}

const SLOT_HEX = /^[0-9a-f]{32}$/;

/** The profile at `slotHex` of agent `agentId` of `tenant`; throws for an empty tenant or agent, or a slot that is not 32 lowercase hex digits. */
export function profileRef(tenant: string, agentId: string, slotHex: string): ProfileRef {
  if (typeof tenant !== 'string' || tenant === '') throw new TypeError('a profile ref needs a tenant');
  if (typeof agentId !== 'string' || agentId === '') throw new TypeError('a profile ref needs an agent id');
  if (typeof slotHex !== 'string' || !SLOT_HEX.test(slotHex)) throw new TypeError('a profile ref needs a slot of 32 lowercase hex digits');
  return Object.freeze({ tenant, agentId, slot: slotHex }) as ProfileRef;
}

/** The ref of a stored profile (or a record about to be written, or anything else carrying its key attributes). */
export function profileRefOf(item: { readonly tenant: string; readonly agent_id: string; readonly slot: string }): ProfileRef {
  return profileRef(item.tenant, item.agent_id, item.slot);
}
