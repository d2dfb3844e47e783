import { ApiError, api } from './api.ts';
import { h } from './dom.ts';
import { session } from './session.ts';
import type { Agent, ApiKey, Profile } from './types.ts';

/**
 * Who the console is signed in as: its key_id and whether it is an admin. The vault has no
 * "who am I" route; the key listing is for admins only (403 forbidden for a member), so one
 * `GET /v1/api-keys?limit=100` answers both and names the tenant's keys for an admin. Kept in
 * memory per key for the tab's life (a key's role never changes). A hint to grey out buttons
 * only: the vault checks every request (shared/credentials/access.ts).
 */
export interface Me {
  readonly keyId: string | undefined;
  readonly admin: boolean;
  /** The tenant's keys by key_id (admins only; empty for a member). */
  readonly keys: ReadonlyMap<string, ApiKey>;
}

let cached: { apiKey: string; me: Promise<Me> } | undefined;

async function load(): Promise<Me> {
  const keyId = await session.keyId();
  try {
    const page = await api<{ api_keys: ApiKey[] }>('GET', '/v1/api-keys?limit=100');
    return { keyId, admin: true, keys: new Map(page.api_keys.map((k) => [k.key_id, k])) };
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) return { keyId, admin: false, keys: new Map() };
    throw err;
  }
}

export function whoami(): Promise<Me> {
  const apiKey = session.apiKey() ?? '';
  if (cached?.apiKey !== apiKey) {
    const me = load();
    cached = { apiKey, me };
    me.catch(() => (cached = undefined));
  }
  return (cached as { me: Promise<Me> }).me;
}

/** Forgets the cached key listing (after creating or revoking a key). */
export const forgetWhoami = () => {
  cached = undefined;
};

/** A key's name where the console knows it ("bootstrap key"), else its key id. */
export const keyName = (me: Me, keyId: string): string => me.keys.get(keyId)?.name ?? keyId;

/** Why `me` may not change `profile`, or undefined when it may (shared/credentials/access.ts rules). */
export function profileReadOnly(me: Me, profile: Profile): string | undefined {
  if (me.admin || (me.keyId && profile.owner === me.keyId)) return undefined;
  const grants = profile.grants.filter((g) => g.principal === me.keyId || g.principal === 'role:member');
  if (grants.some((g) => g.permission === 'read_write')) return undefined;
  return 'Read only: your key has Read on this profile (it may see and use it). Changing, rotating, sharing or deleting it needs Read·Write: ask its owner or an admin.';
}

/** Why `me` may not change `agent`, or undefined when it may (its owner or an admin). */
export function agentReadOnly(me: Me, agent: Agent): string | undefined {
  if (me.admin || (me.keyId && agent.owner === me.keyId)) return undefined;
  return 'Read only: only this agent\'s owner or an admin may edit it, rotate its signing secret or delete it.';
}

/** Disables every control under `root` with `reason` as its tooltip (the page shows the reason once, at its top). */
export function disableAll(reason: string | undefined, root: ParentNode): void {
  if (!reason) return;
  for (const el of root.querySelectorAll<HTMLButtonElement | HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>('button, input, select, textarea')) {
    el.disabled = true;
    el.title = reason;
  }
}

/** The reason a page's write controls are disabled, shown once near its top. */
export const readOnlyNote = (reason: string | undefined) => (reason ? h('p', { class: 'notice notice-readonly', 'data-testid': 'read-only' }, reason) : null);
