/**
 * Hands a just-created auth token from the New Profile page to the run form, in memory only
 * (never the URL or storage). Taking it clears it: it survives one navigation at most.
 */
let pending: { agentId: string; profile: string; token: string } | undefined;

export const tokenHandoff = {
  give(agentId: string, profile: string, token: string): void {
    pending = { agentId, profile, token };
  },
  take(agentId: string): { profile: string; token: string } | undefined {
    const p = pending;
    pending = undefined;
    return p && p.agentId === agentId ? { profile: p.profile, token: p.token } : undefined;
  },
  clear(): void {
    pending = undefined;
  },
};
