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
  /**
   * The signed-in key's `key_id` (the first 16 hex digits of its SHA-256, as the vault lists it),
   * so pages can say "this key"; computed in the browser, never sent anywhere.
   */
  async keyId(): Promise<string | undefined> {
    const key = session.apiKey();
    if (!key) return undefined;
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(key)));
    return [...digest.slice(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join('');
  },
};

/** The shape of a tenant API key (avk_ + 43 base64url characters), checked before any request. */
export const API_KEY_PATTERN = /^avk_[A-Za-z0-9_-]{43}$/;
