/**
 * The API key lives in sessionStorage only: it is gone when the tab closes, it is never written
 * to localStorage, a cookie or the URL, and it is only ever sent in the Authorization header.
 */
const KEY = 'agent-vault.api-key';

export const session = {
  apiKey(): string | undefined {
    return sessionStorage.getItem(KEY) ?? undefined;
  },
  signIn(apiKey: string): void {
    sessionStorage.setItem(KEY, apiKey);
  },
  signOut(): void {
    sessionStorage.removeItem(KEY);
  },
};

/** The shape of a tenant API key (avk_ + 43 base64url characters), checked before any request. */
export const API_KEY_PATTERN = /^avk_[A-Za-z0-9_-]{43}$/;
