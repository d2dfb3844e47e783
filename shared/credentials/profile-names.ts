/**
 * Profile names (docs/architecture.md, "Renaming a profile"). A profile lives at the slot its
 * token carries, forever; its name is unique within its agent through one claim item per name
 * (keyed by the name's slot, slotFor), which points at that slot. A profile created under a name
 * lives at the name's own slot when it is free (the "home" slot), so a lookup by name reads the
 * claim and the home slot in the one round trip it always took; a renamed profile costs a second
 * read. A claim counts only while the profile it points at carries the name (its stored name is
 * covered by the item's MAC): a stale claim, left by a rename or delete that stopped half-way, is
 * ignored by readers and taken over by the next create or rename of that name. Profiles from
 * before claims have none: their name is their home slot's.
 */
import { publicRandom } from '../crypto/random.ts';
import { ConflictError } from '../errors.ts';
import type { ProfileItem, ProfileNameItem } from '../schemas/items.ts';
import { type ProfileRef, profileRef } from '../store/profile-ref.ts';
import type { ProfileContext, ProfileContextOptions, Store } from '../store/types.ts';
import { namedProfileRef } from './profile-keys.ts';

/**
 * How long a claim whose profile does not exist yet (a create between its claim and its profile
 * write) holds against a rename: longer than any request runs. A create never writes its profile
 * later than half of it after its claim (claimAndCheck), so a rename that takes over an older one
 * cannot meet a late profile.
 */
export const UNBORN_CLAIM_LEASE_MS = 60_000;

/** A name looked up: the profile of that name (if any) with what was read beside it, and where it lives. */
export interface NamedProfile {
  /** The agent, and the profile of that name (with its session/token cache when asked), or no profile. */
  readonly ctx: ProfileContext;
  /** Where the profile of that name lives; without one, the name's home slot. */
  readonly ref: ProfileRef;
  /** The name's home slot (its slotFor): the claim's key. */
  readonly home: ProfileRef;
  /** The name's claim as read, valid or not. */
  readonly claim?: ProfileNameItem;
  /** Whatever profile sits in the name's home slot (one renamed away keeps sitting there). */
  readonly homeOccupied: boolean;
}

/**
 * The profile named `name` of an agent: the claim and the home slot in one round trip; a claim
 * pointing elsewhere costs a second read. A profile counts only if its stored name is `name` (a
 * profile renamed away still sits in its old name's home slot and is not that name's).
 */
export async function loadNamedProfile(
  store: Pick<Store, 'profileContext'>,
  tenant: string,
  agentId: string,
  name: string,
  options: ProfileContextOptions = {},
): Promise<NamedProfile> {
  const home = namedProfileRef(tenant, agentId, name);
  const ctx = await store.profileContext.load(home, { ...options, withNameClaim: true });
  const claim = ctx.nameClaim?.name === name ? ctx.nameClaim : undefined;
  const homeOccupied = ctx.profile !== undefined;
  if (claim && claim.slot !== home.slot) {
    const there = profileRef(tenant, agentId, claim.slot);
    const moved = await store.profileContext.load(there, options);
    if (moved.profile?.name === name) return { ctx: moved, ref: there, home, claim, homeOccupied };
  }
  if (ctx.profile?.name === name) return { ctx, ref: home, home, claim, homeOccupied };
  return { ctx: { agent: ctx.agent }, ref: home, home, claim, homeOccupied };
}

/** What a claim is worth, read with the profile it points at. */
type ClaimState =
  | { readonly kind: 'valid'; readonly target: ProfileItem }
  /** Its profile is being renamed to the claim's name (rename_to): the rename has not finished. */
  | { readonly kind: 'pending'; readonly target: ProfileItem }
  /** No profile at its slot yet (a create in progress or stopped, or a profile deleted). */
  | { readonly kind: 'unborn' }
  /** Its profile carries another name and is not being renamed to this one. */
  | { readonly kind: 'stale' };

async function stateOf(store: Pick<Store, 'profiles'>, claim: ProfileNameItem): Promise<ClaimState> {
  const target = await store.profiles.get(profileRef(claim.tenant, claim.agent_id, claim.slot));
  if (!target) return { kind: 'unborn' };
  if (target.name === claim.name) return { kind: 'valid', target };
  if (target.rename_to === claim.name) return { kind: 'pending', target };
  return { kind: 'stale' };
}

const nameTaken = (agentId: string, name: string) =>
  new ConflictError(`An auth profile named "${name}" already exists for agent "${agentId}"; choose another name`, 'profile_exists');
const nameBusy = (agentId: string, name: string) =>
  new ConflictError(`The name "${name}" of agent "${agentId}" is being taken by another request right now; retry in a minute`, 'conflict');

/** A claim written: its nonce (to release exactly it) and the slot it points at. */
export interface Claimed {
  readonly slot: string;
  readonly nonce: string;
  readonly claimedAt: number;
}

/**
 * Takes `name` for the profile at `slot` (a rename: the profile's own slot) or, with `slot`
 * undefined, for a profile about to be created (the home slot when free, else a fresh random
 * one; an unborn claim's slot is reused, so two creates of one name meet at one conditional
 * put). Over a stale claim, or an unborn one older than the lease; a pending rename to the same
 * name is cancelled first (its last write then fails: the name is ours). 409 profile_exists if
 * the name belongs to a profile; 409 conflict while a create holds it.
 */
export async function claimName(
  store: Pick<Store, 'profiles' | 'profileNames' | 'profileContext'>,
  named: NamedProfile,
  name: string,
  slot: string | undefined,
  now: () => Date,
): Promise<Claimed> {
  const { tenant, agentId } = named.home;
  if (named.ctx.profile && named.ctx.profile.slot !== slot) throw nameTaken(agentId, name);
  let read = named.claim;
  for (let attempt = 0; attempt < 4; attempt++) {
    let target = slot;
    if (read && read.slot !== slot) {
      const state = await stateOf(store, read);
      if (state.kind === 'valid') throw nameTaken(agentId, name);
      if (state.kind === 'pending' && state.target.rename_at !== undefined) {
        await store.profiles.cancelRename(profileRef(tenant, agentId, read.slot), name, state.target.rename_at);
      }
      if (state.kind === 'unborn') {
        if (slot === undefined) target = read.slot;
        else if (now().getTime() - Date.parse(read.claimed_at) < UNBORN_CLAIM_LEASE_MS) throw nameBusy(agentId, name);
      }
    }
    if (target === undefined) {
      // The home slot, unless a profile renamed away from this name still lives there.
      target = named.homeOccupied ? publicRandom(16).toString('hex') : named.home.slot;
    }
    const at = now();
    // Slot and nonce are stored in clear in the claim: public randomness (shared/crypto/random.ts).
    const nonce = publicRandom(12).toString('hex');
    if (
      await store.profileNames.put(
        named.home.slot,
        { tenant, agent_id: agentId, name, slot: target, nonce, claimed_at: at.toISOString() },
        read,
      )
    ) {
      return { slot: target, nonce, claimedAt: at.getTime() };
    }
    read = await store.profileNames.get(tenant, agentId, named.home.slot);
  }
  throw nameBusy(agentId, name);
}

/**
 * A create's last check before it writes its profile at the claimed slot: not later than half
 * the lease after the claim (UNBORN_CLAIM_LEASE_MS), so a rename can never take over a claim
 * whose profile is still to come. A create that took longer answers 409 conflict (retry).
 */
export function assertClaimFresh(claimed: Claimed, agentId: string, name: string, now: Date): void {
  if (now.getTime() - claimed.claimedAt >= UNBORN_CLAIM_LEASE_MS / 2) throw nameBusy(agentId, name);
}

/** Releases the claim of `name` if it still points at `slot` (after a delete or a rename away); a failure leaves a stale claim, which is harmless. */
export async function releaseName(store: Pick<Store, 'profileNames'>, ref: ProfileRef, name: string, nonce?: string): Promise<void> {
  await store.profileNames.release(ref.tenant, ref.agentId, namedProfileRef(ref.tenant, ref.agentId, name).slot, ref.slot, nonce);
}
