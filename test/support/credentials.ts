import type { Caller, Deps } from '#shared/deps';
import {
  type OpenedProfile,
  assertBoundToAgent,
  openProfileKeys,
  openValues,
  parseTokenOrThrow,
  verifyToken,
} from '#shared/credentials/sealed-profile';
import { silentLogger } from '#shared/log';
import type { ProfileItem } from '#shared/schemas/items';
import { profileRef } from '#shared/store/profile-ref';

/** A caller of `tenant` for tests that call services directly. */
export function testCaller(tenant: string, apiKeyId = 'test-key', role: Caller['role'] = 'admin'): Caller {
  return { tenant, apiKeyId, role, sourceIp: '127.0.0.1', requestId: 'test' };
}

/**
 * Test helper: opens a profile with its token through the gate's stages (verify → binding policy
 * → keys) without recording a use, reading the agent and the profile (unless `item` is given:
 * `null` = none found). Tests use it to check what a token opens after a write.
 */
export async function openProfile(deps: Deps, tenant: string, agentId: string, token: string, item?: ProfileItem | null): Promise<OpenedProfile> {
  const parsed = parseTokenOrThrow(token);
  const [agent, found] = await Promise.all([
    deps.store.agents.get(tenant, agentId),
    item === undefined ? deps.store.profiles.get(profileRef(tenant, agentId, parsed.slot.toString('hex'))) : (item ?? undefined),
  ]);
  const verified = verifyToken(deps, tenant, agentId, parsed, found);
  assertBoundToAgent(verified, agent?.incarnation);
  return openProfileKeys(deps, verified);
}

/** Decrypts every value of an opened profile. */
export function decryptAuthData(opened: OpenedProfile): Record<string, string> {
  return openValues({ log: silentLogger }, opened);
}
